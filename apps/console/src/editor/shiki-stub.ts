/**
 * Stands in for shiki, which codemirror-json-schema uses to colour code blocks in hover texts:
 * shiki compiles WebAssembly (refused by the console's CSP) and would add hundreds of KB for
 * schema descriptions that hold no code. Hover texts are still rendered as Markdown.
 */
export async function createHighlighterCore(): Promise<object> {
  return {};
}

export function fromHighlighter(): () => void {
  return () => undefined;
}

export default {};
