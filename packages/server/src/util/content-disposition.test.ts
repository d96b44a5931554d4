import { describe, expect, it } from 'vitest';
import { asciiFallback, contentDisposition, encodeRfc8187 } from './content-disposition.js';

/** Decodes a header the way an RFC 6266 client does: filename* wins. */
function parse(header: string): { fallback: string; exact: string } {
  const fallback = /filename="([^"]*)"/.exec(header)![1]!;
  const star = /filename\*=UTF-8''([^;\s]*)/.exec(header)![1]!;
  return { fallback, exact: decodeURIComponent(star) };
}

describe('Content-Disposition (RFC 6266 + RFC 8187)', () => {
  const names = [
    'report.pdf',
    'naïve résumé.txt',
    '日本語のファイル.png',
    'emoji 🚀 launch.md',
    'quote"and\\back.txt',
    "it's (100%) * done;.txt",
    `${'very-long-name-'.repeat(40)}.csv`,
    'a,b;c=d.txt',
    'Q3 "final" 100% (sûr) – 50%25 done & más.txt',
  ];
  for (const name of names) {
    it(`round-trips ${JSON.stringify(name.slice(0, 30))}`, () => {
      const h = contentDisposition('attachment', name);
      expect(h).toMatch(
        /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+$/,
      );
      // The header is plain ASCII (no raw UTF-8 in header bytes).
      expect(/^[\x20-\x7e]*$/.test(h)).toBe(true);
      const { fallback, exact } = parse(h);
      expect(exact).toBe(name);
      expect(fallback).not.toMatch(/["\\%]/);
      expect(fallback.length).toBeLessThanOrEqual(150);
    });
  }

  it('never throws on a name that is not well-formed UTF-16 (lone surrogates become U+FFFD)', () => {
    for (const name of ['half \ud83d pair.txt', '\udc00start', 'end\ud800']) {
      const h = contentDisposition('attachment', name);
      expect(/^[\x20-\x7e]*$/.test(h)).toBe(true);
      expect(parse(h).exact).toBe(name.replace(/[\ud800-\udfff]/g, '\ufffd'));
    }
    // A well-formed pair is kept.
    expect(parse(contentDisposition('attachment', '🚀.txt')).exact).toBe('🚀.txt');
  });

  it('drops control characters and never yields an empty name', () => {
    expect(parse(contentDisposition('inline', 'a\r\nb\u0000.txt')).exact).toBe('ab.txt');
    expect(parse(contentDisposition('inline', '\u0001')).exact).toBe('download');
    expect(asciiFallback('日本')).toBe('__');
    expect(asciiFallback('café')).toBe('cafe');
    expect(encodeRfc8187("a'b(c)*")).toBe('a%27b%28c%29%2A');
  });

  it('always falls back to a safe basename: no separator, no `.`/`..`, no hidden name, no control character', () => {
    const cases: Array<[string, string]> = [
      ['../../../etc/passwd', 'passwd'],
      ['..', 'download'],
      ['.', 'download'],
      ['a/..', 'download'],
      ['..\\..\\win.ini', 'win.ini'],
      ['.hidden', 'hidden'],
      ['x..y.txt', 'x_y.txt'],
      ['dir/', 'dir'],
      ['/', 'download'],
    ];
    for (const [name, fallback] of cases) expect(asciiFallback(name), name).toBe(fallback);
    const hostile = ['../../../etc/passwd', '..', '.', 'a/b\\c', 'tab\there', '\u0085x/..', ' ../x', '....'];
    for (const name of hostile) {
      const { fallback } = parse(contentDisposition('attachment', name));
      expect(fallback, name).toMatch(/^[\x20-\x7e]+$/);
      expect(fallback, name).not.toMatch(/[/\\]/);
      expect(fallback, name).not.toMatch(/^\./);
      expect(fallback, name).not.toContain('..');
      expect(fallback.length, name).toBeGreaterThan(0);
    }
  });
});
