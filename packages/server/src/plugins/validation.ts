import { Ajv, type AnySchema, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type HttpPart = 'body' | 'querystring' | 'params' | 'headers' | string;

/**
 * The route validator factory (Fastify `schemaController.compilersFactory.buildValidator`).
 * Bodies are validated strictly — no type coercion, unknown fields rejected — while the query
 * string, path parameters and headers (always strings on the wire) are coerced to their types.
 * Ajv's `coerceTypes: 'array'` would otherwise turn a one-element array into its element, which
 * broke `content: [block]`.
 */
export function buildValidatorFactory(
  externalSchemas: unknown,
): (route: { schema: AnySchema; httpPart?: HttpPart }) => ValidateFunction {
  const make = (coerce: Options['coerceTypes']) => {
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
  const strict = make(false);
  const coercing = make(true);
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema);
}
