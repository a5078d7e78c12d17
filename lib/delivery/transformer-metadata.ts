import { Exclude, TransformationType } from 'class-transformer';
import { createRequire } from 'node:module';
import type { Type } from '@nestjs/common';

/** The part of class-transformer's metadata storage read here (its own method names). */
interface TransformerStorage {
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

/**
 * Whether `instanceToPlain` passes the primitive values of `type`'s `properties` through as
 * they are: nothing on the class or its parents exposes, excludes, types or transforms them
 * (`@Expose`, `@Exclude`, `@Type`, `@Transform`), which holds for most webhook DTOs. Then a
 * payload whose values for them are all primitives can be sent without the transformation,
 * which costs as much as validating it. `false` whenever the storage cannot be read.
 */
export function passesPrimitivesThrough(
  type: Type<unknown>,
  properties: Iterable<string>,
): boolean {
  if (storage === null) storage = loadStorage();
  if (!storage) return false;
  if (storage.getStrategy(type) !== 'none') return false;
  if (storage.getExposedMetadatas(type).length > 0) return false;
  if (storage.getExcludedMetadatas(type).length > 0) return false;
  for (const property of properties) {
    if (storage.findTypeMetadata(type, property)) return false;
    const transforms = storage.findTransformMetadatas(
      type,
      property,
      TransformationType.CLASS_TO_PLAIN,
    );
    if (transforms.length > 0) return false;
  }
  return true;
}
