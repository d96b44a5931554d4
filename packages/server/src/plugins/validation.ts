import { createRequire } from 'node:module';
import type { Ajv, AnySchema, ErrorObject, Options, ValidateFunction } from 'ajv';

/*
 * Ajv (and fast-json-stringify, which loads it too) are required on the first validation or
 * serialization, not when the server starts: half a megabyte of JavaScript off the time to healthy.
 * Both are CommonJS, so the compilers Fastify calls synchronously can load them synchronously.
 */
const require = createRequire(import.meta.url);

type HttpPart = 'body' | 'querystring' | 'params' | 'headers' | string;

/** The message of a field refused for a NUL character. */
export const NUL_MESSAGE = 'must not contain the NUL character (\\u0000)';

/** JSON-pointer escaping of one key (RFC 6901). */
const pointer = (key: string | number) => String(key).replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Where a NUL character (U+0000) hides in a decoded request part — in a string value or in an
 * object key of plain objects and arrays (parsed JSON; streams and Buffers are skipped) — as a JSON pointer (`/env/TOKEN`, `/files/0/path`); undefined when there is none.
 * No stored string may hold one: PostgreSQL refuses it in text and JSON, and SQLite would store
 * what PostgreSQL cannot, so both dialects refuse it here, before any route runs.
 */
export function findNul(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '/' : undefined;
  if (typeof value !== 'object' || value === null || depth > 256) return undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findNul(v, `${path}/${i}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  // Only parsed data is walked: plain objects (JSON bodies; the query string parser's objects,
  // whose prototype has a null prototype). A raw body passed through as a stream (workspace
  // bundles), a Buffer or any other class instance is not data of the request's fields.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && Object.getPrototypeOf(proto) !== null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const here = `${path}/${pointer(k)}`;
    if (k.includes('\u0000')) return here;
    const found = findNul(v, here, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Adds the NUL refusal to a compiled validator: after the schema passes, a NUL anywhere in the
 * part fails validation like a schema error (400 `validation_failed` naming the field).
 */
function refusingNul(validate: ValidateFunction): ValidateFunction {
  const wrapped = ((data: unknown, ctx?: Parameters<ValidateFunction>[1]) => {
    const ok = validate(data, ctx);
    if (!ok) {
      wrapped.errors = validate.errors;
      return false;
    }
    const at = findNul(data);
    if (at !== undefined) {
      const error: ErrorObject = {
        instancePath: at === '/' ? '' : at,
        schemaPath: '#',
        keyword: 'nul',
        params: {},
        message: NUL_MESSAGE,
      };
      wrapped.errors = [error];
      return false;
    }
    wrapped.errors = null;
    return true;
  }) as ValidateFunction;
  // Fastify passes the parent (so Ajv can apply defaults to the root) when `schemaEnv` is set.
  Object.assign(wrapped, { schema: validate.schema, schemaEnv: validate.schemaEnv });
  return wrapped;
}

/**
 * The route validator factory (Fastify `schemaController.compilersFactory.buildValidator`).
 * Bodies are validated strictly — no type coercion, unknown fields rejected — while the query
 * string, path parameters and headers (always strings on the wire) are coerced to their types.
 * Ajv's `coerceTypes: 'array'` would otherwise turn a one-element array into its element, which
 * broke `content: [block]`. Bodies, query strings and path parameters holding a NUL character
 * anywhere are refused (see {@link findNul}).
 */
export function buildValidatorFactory(
  externalSchemas: unknown,
): (route: { schema: AnySchema; httpPart?: HttpPart }) => ValidateFunction {
  const make = (coerce: Options['coerceTypes']) => {
    const { Ajv } = require('ajv') as typeof import('ajv');
    const addFormats = require('ajv-formats') as typeof import('ajv-formats');
    const ajv = new Ajv({
      removeAdditional: false,
      useDefaults: true,
      allErrors: false,
      coerceTypes: coerce,
      strict: false,
    });
    addFormats.default(ajv);
    for (const s of Object.values((externalSchemas ?? {}) as Record<string, AnySchema>)) ajv.addSchema(s);
    return ajv;
  };
  // The Ajv instances and each route's validator are built on first use, not at start: compiling
  // every route's schemas up front took most of `ash serve`'s time to healthy (seconds of CPU).
  let instances: { strict: Ajv; coercing: Ajv } | undefined;
  return ({ schema, httpPart }) => {
    let compiled: ValidateFunction | undefined;
    const compile = (): ValidateFunction => {
      instances ??= { strict: make(false), coercing: make(true) };
      const validate = (httpPart === 'body' ? instances.strict : instances.coercing).compile(schema);
      return httpPart === 'headers' ? validate : refusingNul(validate);
    };
    const lazy = ((data: unknown, cxt?: Parameters<ValidateFunction>[1]) => {
      compiled ??= compile();
      const ok = compiled(data, cxt);
      lazy.errors = compiled.errors;
      return ok;
    }) as ValidateFunction;
    // Fastify passes the parent (so Ajv can apply defaults to the root) only when `schemaEnv` is
    // set; it must be known before the first call, so it is always set (harmless without defaults).
    Object.assign(lazy, { schema, schemaEnv: {} });
    return lazy;
  };
}

/**
 * The route serializer factory (Fastify `schemaController.compilersFactory.buildSerializer`):
 * Fastify's own (fast-json-stringify, from `load`, called on the first response of any route),
 * each route's serializer compiled on its first response instead of at start.
 */
export function buildLazySerializerFactory(
  load: () => SerializerFactory,
): (externalSchemas: unknown, options: unknown) => (route: unknown) => (data: unknown) => string {
  let base: SerializerFactory | undefined;
  return (externalSchemas, options) => {
    let build: ((route: unknown) => (data: unknown) => string) | undefined;
    return (route) => {
      let serialize: ((data: unknown) => string) | undefined;
      return (data) => {
        base ??= load();
        build ??= base(externalSchemas, options);
        serialize ??= build(route);
        return serialize(data);
      };
    };
  };
}

/** Fastify's own serializer factory (fast-json-stringify), loaded when called. */
export function fastifySerializerFactory(): SerializerFactory {
  const { SerializerSelector } = require('@fastify/fast-json-stringify-compiler') as {
    SerializerSelector: () => SerializerFactory;
  };
  return SerializerSelector();
}

/** Fastify's serializer factory shape (`@fastify/fast-json-stringify-compiler`'s `SerializerSelector()`). */
export type SerializerFactory = (
  externalSchemas: unknown,
  options: unknown,
) => (route: unknown) => (data: unknown) => string;

/** The parts of a JSON schema {@link projectingSerializer} reads. */
interface PlainSchema {
  type?: string;
  properties?: Record<string, PlainSchema>;
  items?: PlainSchema;
}

/** `value` with only the properties `schema` names (in its order), integers truncated. */
function project(schema: PlainSchema, value: unknown): unknown {
  if (schema.type === 'integer' && typeof value === 'number') return Math.trunc(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return schema.items ? value.map((v) => project(schema.items!, v)) : value;
  if (!schema.properties) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(schema.properties)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = project(sub, v);
  }
  return out;
}

/**
 * A response serializer for a schema of objects, arrays and scalars (a union is written as its
 * value is): the properties the schema names, in its order, as JSON — what fast-json-stringify
 * writes for a valid value, without compiling anything. For `/health`, the start probe: Fastify's
 * serializer builds an Ajv validator for the schema's unions on the first response, a tenth of a
 * second or more of the time to healthy.
 */
export function projectingSerializer(schema: unknown): (data: unknown) => string {
  return (data) => JSON.stringify(project(schema as PlainSchema, data));
}
