import { Type } from '@sinclair/typebox';
import { ProblemSchema } from '@ash-ai/shared';

/** `$ref` to the shared problem-details schema (registered once in app.ts). */
export const ProblemRef = Type.Ref(ProblemSchema);

/** Standard error responses, documented on every route. */
export const errorResponses = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ProblemRef]));
