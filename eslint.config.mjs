// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.cache/**',
      'data/**',
      'apps/console/dist/**',
      'apps/console/generated/**',
      'libs/client/src/generated/**',
      'test-artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.property.name=/^(skip|only)$/][callee.object.name=/^(it|test|describe)$/]',
          message: 'A skipped or focused test is not done.',
        },
      ],
    },
  },
  {
    // The engine is pure: no framework, database or broker may leak into it.
    files: ['libs/pipeline/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@nestjs/*',
                'typeorm',
                'pg',
                'amqplib',
                'amqp-connection-manager',
                'kafkajs',
                'undici',
                'fastify',
                '@fastify/*',
              ],
              message: 'libs/pipeline stays pure: no Nest, TypeORM or broker clients.',
            },
            { group: ['@junction/*'], message: 'libs/pipeline depends on no other Junction lib.' },
          ],
        },
      ],
    },
  },
  {
    // The engine's specs check it against the real protocol map, which the engine itself only
    // gets injected (RouteResources.protocols).
    files: ['libs/pipeline/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', 'typeorm', 'pg'],
              message: 'libs/pipeline stays pure: no Nest, TypeORM or broker clients.',
            },
            {
              group: ['@junction/*', '!@junction/connectors'],
              message:
                "libs/pipeline's specs may use the protocol map of @junction/connectors only.",
            },
          ],
        },
      ],
    },
  },
  {
    // Protocol adapters: plain TypeScript over the broker clients; only the engine's types from Junction.
    files: ['libs/connectors/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', 'typeorm', 'pg'],
              message: 'libs/connectors stays outside Nest and the database.',
            },
            {
              group: ['@junction/*', '!@junction/pipeline'],
              message: 'libs/connectors depends only on @junction/pipeline.',
            },
          ],
        },
      ],
    },
  },
  {
    // The SDK runs in browsers (the console) and in Node: nothing of the server, no Node module.
    files: ['libs/client/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', 'typeorm', 'pg', 'node:*', '@junction/*'],
              message: '@junction/client stands alone: openapi-fetch and web-standard APIs only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Build scripts (ES modules run by Node).
    files: ['apps/console/scripts/**/*.mjs', 'libs/client/scripts/**/*.mjs'],
    languageOptions: {
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
);
