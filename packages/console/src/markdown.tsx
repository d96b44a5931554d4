import { Marked } from 'marked';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// Raw HTML in the markdown is shown as text, never as markup; links keep only http(s) targets.
const md = new Marked({
  gfm: true,
  renderer: {
    html: ({ text }) => escapeHtml(text),
    link({ href, text }) {
      return /^https?:\/\//i.test(href)
        ? `<a href="${escapeHtml(href)}" rel="noreferrer noopener">${escapeHtml(text)}</a>`
        : escapeHtml(text);
    },
    image: ({ text }) => escapeHtml(text),
  },
});

/** Markdown (CLAUDE.md) rendered to HTML without raw HTML, scripts or remote images. */
export function Markdown({ source }: { source: string }) {
  return (
    // biome-ignore lint/security/noDangerouslySetInnerHtml: marked's output with raw HTML escaped (see renderer above)
    <div className="markdown" dangerouslySetInnerHTML={{ __html: md.parse(source, { async: false }) }} />
  );
}
