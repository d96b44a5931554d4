import { Marked } from 'marked';

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// Raw HTML in the markdown is shown as text, never as markup; links keep only http(s) targets.
const md = new Marked({
  gfm: true,
  renderer: {
    html: ({ text }) => escape(text),
    link({ href, text }) {
      return /^https?:\/\//i.test(href) ? `<a href="${escape(href)}" rel="noreferrer noopener">${escape(text)}</a>` : escape(text);
    },
    image: ({ text }) => escape(text),
  },
});

/** Markdown (CLAUDE.md) rendered to HTML without raw HTML, scripts or remote images. */
export function Markdown({ source }: { source: string }) {
  // biome-ignore lint/security/noDangerouslySetInnerHtml: marked's output with raw HTML escaped (see renderer above)
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: md.parse(source, { async: false }) }} />;
}
