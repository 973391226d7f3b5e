/** Three tiers (see docs/STYLE in the design notes): unit specs beside the code, integration
 * tests against real services, end-to-end tests that start the gateway as a process. */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    },
  ],
};
/**
 * Packages that ship only ES modules, which jest (on Node 20, CommonJS) cannot require: @swc/jest
 * turns exactly these into CommonJS; everything else in node_modules is loaded as it is. At run
 * time Node loads them itself (require of ESM). ldapts is not here: it ships a CommonJS build.
 * oidc-provider (tests only) runs in a child process of its own.
 */
const ESM_PACKAGES = ['openid-client', 'oauth4webapi', 'jose'];
transform[`/node_modules/(${ESM_PACKAGES.join('|')})/.+\\.js$`] = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } },
];
const transformIgnorePatterns = [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`];
const moduleNameMapper = {
  '^@junction/([a-z-]+)$': '<rootDir>/libs/$1/src',
  '^@junction/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
const common = {
  transform,
  transformIgnorePatterns,
  moduleNameMapper,
  testEnvironment: 'node',
  rootDir: __dirname,
};

module.exports = {
  /**
   * On two cores jest runs one test file at a time, and with one worker it runs them in its own
   * process: whatever a file leaves behind (heap, a socket, a timer) stays for every later file.
   * A whole run took 25 min that way, with the JSONata reference suite at 135 s (15 s alone) and
   * the audit export at 139 s (45 s alone). A limit makes jest use a worker process and start a
   * fresh one once a file leaves it holding more: the same run takes 19 min.
   */
  workerIdleMemoryLimit: '512MB',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
