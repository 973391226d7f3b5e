import type { INestApplication } from '@nestjs/common';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { PERMISSION_KEY, PUBLIC_KEY, type Permission } from '@junction/auth';

/** What the app itself registered under /api/v1, read from the controllers' Nest metadata. */
export function registeredEndpoints(
  app: INestApplication,
): Record<string, Permission | 'signed-in' | 'public'> {
  const out: Record<string, Permission | 'signed-in' | 'public'> = {};
  const join = (...parts: string[]) =>
    '/' +
    parts
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .filter(Boolean)
      .join('/');
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type) continue;
      const bases = [Reflect.getMetadata(PATH_METADATA, type) as string | string[]].flat();
      const proto = type.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (method === undefined || paths === undefined) continue;
        const isPublic =
          Reflect.getMetadata(PUBLIC_KEY, handler) ?? Reflect.getMetadata(PUBLIC_KEY, type);
        const permission = (Reflect.getMetadata(PERMISSION_KEY, handler) ??
          Reflect.getMetadata(PERMISSION_KEY, type)) as Permission | undefined;
        for (const base of bases) {
          for (const path of [paths].flat()) {
            const full = join(base ?? '', path);
            if (!full.startsWith('/api/v1/')) continue;
            out[`${RequestMethod[method]} ${full}`] = isPublic
              ? 'public'
              : (permission ?? 'signed-in');
          }
        }
      }
    }
  }
  return out;
}
