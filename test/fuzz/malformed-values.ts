import fc from 'fast-check';

/**
 * Values a careless or hostile client sends: characters PostgreSQL cannot store (U+0000, unpaired
 * surrogates), direction overrides, byte-order marks, combining marks, line separators, astral
 * characters; strings too long for any column; numbers and types where strings belong.
 */
export const ODD_CHARACTERS = [
  '\u0000',
  '\uD800',
  '\uDFFF',
  '\u202E',
  '\uFEFF',
  '\u0301',
  '\u2028',
  '\u200B',
  '\uFFFF',
  '🙂',
  '𝔘',
  "'",
  '"',
  '\\',
  '%',
  '$1',
  '\n',
  '../',
];

const oddUnit = fc.oneof(fc.constantFrom(...ODD_CHARACTERS), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

/** Strings with odd Unicode in them, short or long. */
export const oddString = fc.oneof(
  fc.string({ unit: oddUnit, maxLength: 20 }),
  fc
    .tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...ODD_CHARACTERS), fc.string({ maxLength: 10 }))
    .map(([a, odd, b]) => `${a}${odd}${b}`),
);

/** Strings far longer than any field allows; the biggest exceed the 1 MiB body limit. */
export const hugeString = fc
  .constantFrom(300, 5_000, 70_000, 1_100_000)
  .chain((n) => fc.constantFrom('x', 'é', '\u0000', '🙂').map((c) => c.repeat(n)));

/** Anything JSON can hold, of the wrong kind for most fields. */
export const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.string({ maxLength: 5 }),
);

/** A malformed value for any field. */
export const malformedValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: oddString },
  { weight: 1, arbitrary: hugeString },
  { weight: 3, arbitrary: wrongType },
);

/** Path-parameter text: invalid UUIDs, odd Unicode, separators, empty. */
export const malformedPathSegment = fc.oneof(
  fc.constantFrom(
    'not-a-uuid',
    '00000000-0000-0000-0000-00000000000g',
    '00000000-0000-0000-0000-0000000000000',
    '%00',
    '%C0%AF',
    '%ED%A0%80',
    '%FF',
    '..',
    '%2F',
    "'; DROP TABLE tenants; --",
    'x'.repeat(5_000),
  ),
  oddString.map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);
