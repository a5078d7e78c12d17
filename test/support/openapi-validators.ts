import { createConfig, lintFromString, type Config } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';

// The two independent checks that DESIGN.md promises every generated document passes:
// Redocly's `struct` rule (its strict, per-version model of OpenAPI 3.1) and the JSON
// Schema of the OpenAPI 3.1 specification itself (@seriousme/openapi-schema-validator).

let redoclyConfig: Promise<Config> | undefined;

// Only `struct`, as an error: the other rules of Redocly's presets are style advice.
const structOnly = () => (redoclyConfig ??= createConfig({ rules: { struct: 'error' } }));

/** Problems Redocly's `struct` rule finds, one readable line each (empty when none). */
export async function redoclyProblems(document: unknown): Promise<string[]> {
  const problems = await lintFromString({
    source: JSON.stringify(document),
    absoluteRef: 'openapi.json',
    config: await structOnly(),
  });
  return problems
    .filter((problem) => problem.severity === 'error' && !problem.ignored)
    .map((problem) => {
      const where = problem.location[0]?.pointer ?? '#/';
      return `${where}: ${problem.message} (${problem.ruleId})`;
    });
}

/** Problems the OpenAPI JSON Schema finds, one readable line each (empty when none). */
export async function schemaValidatorProblems(document: unknown): Promise<string[]> {
  // The validator may annotate what it is given; it gets a copy.
  const result = await new Validator().validate(
    structuredClone(document) as Record<string, unknown>,
  );
  if (result.valid) return [];
  if (typeof result.errors === 'string') return [result.errors];
  const errors = result.errors ?? [];
  if (errors.length === 0) return ['invalid, without details'];
  return errors.map(
    (error) =>
      `#${error.instancePath}: ${error.message ?? error.keyword} ` +
      `${JSON.stringify(error.params)} (${error.schemaPath})`,
  );
}

/**
 * Throws, listing every problem, unless `document` declares OpenAPI 3.1 and passes both
 * Redocly's `struct` rule and @seriousme/openapi-schema-validator.
 */
export async function assertValidOpenApi31(document: unknown): Promise<void> {
  const version =
    typeof document === 'object' && document !== null && 'openapi' in document
      ? (document as { openapi: unknown }).openapi
      : undefined;
  const sections: string[] = [];
  if (typeof version !== 'string' || !/^3\.1\.\d+$/.test(version)) {
    sections.push(`openapi is ${JSON.stringify(version)}, expected 3.1.x`);
  }
  const [redocly, schema] = await Promise.all([
    redoclyProblems(document),
    schemaValidatorProblems(document),
  ]);
  if (redocly.length > 0) {
    sections.push(`@redocly/openapi-core (struct):\n  ${redocly.join('\n  ')}`);
  }
  if (schema.length > 0) {
    sections.push(`@seriousme/openapi-schema-validator:\n  ${schema.join('\n  ')}`);
  }
  if (sections.length > 0) {
    throw new Error(`The document is not valid OpenAPI 3.1:\n${sections.join('\n')}`);
  }
}
