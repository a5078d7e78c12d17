import { Exclude, TransformationType } from 'class-transformer';
import { createRequire } from 'node:module';
import type { Type } from '@nestjs/common';

/** The part of class-transformer's metadata storage the accessor reads (its own method names). */
export interface TransformerStorage {
  getStrategy(target: Type<unknown>): string;
  getExposedMetadatas(target: Type<unknown>): unknown[];
  getExcludedMetadatas(target: Type<unknown>): unknown[];
  findTypeMetadata(target: Type<unknown>, propertyName: string): unknown;
  findTransformMetadatas(
    target: Type<unknown>,
    propertyName: string,
    transformationType: TransformationType,
  ): unknown[];
}

/**
 * class-transformer's metadata storage, where its decorators record what they declare, or
 * `undefined` where it cannot be read. It is not part of the package's index: it is read where
 * `@nestjs/mapped-types` reads it, and used only once a probe shows it is the storage the
 * decorators write to (a bundler may resolve the package's ESM build, whose storage is another
 * object, and a later release may move it).
 */
function loadStorage(): TransformerStorage | undefined {
  try {
    const require = createRequire(import.meta.url);
    const storage = (
      require('class-transformer/cjs/storage') as { defaultMetadataStorage?: unknown }
    ).defaultMetadataStorage as TransformerStorage | undefined;
    class Probe {
      declare value: unknown;
    }
    Exclude()(Probe.prototype, 'value');
    return storage?.getExcludedMetadatas(Probe).length === 1 ? storage : undefined;
  } catch {
    return undefined;
  }
}

let storage: TransformerStorage | undefined | null = null;

/** class-transformer's storage (see `loadStorage`), read once; `undefined` where unreadable. */
export function classTransformerStorage(): TransformerStorage | undefined {
  if (storage === null) storage = loadStorage();
  return storage;
}
