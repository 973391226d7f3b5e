import { autocompletion, completionKeymap, type CompletionSource } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { yamlLanguage } from '@codemirror/lang-yaml';
import {
  bracketMatching,
  HighlightStyle,
  indentOnInput,
  syntaxHighlighting,
} from '@codemirror/language';
import { linter, lintGutter, lintKeymap, type Diagnostic } from '@codemirror/lint';
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  hoverTooltip,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import { useComputedColorScheme } from '@mantine/core';
import { tags } from '@lezer/highlight';
import { yamlCompletion, yamlSchemaHover } from 'codemirror-json-schema/yaml';
import { stateExtensions } from 'codemirror-json-schema';
import type { JSONSchema7 } from 'json-schema';
import { yaml } from '@codemirror/lang-yaml';
import { useEffect, useRef } from 'react';

// Colours with at least 4.5:1 contrast on each theme's background (WCAG AA).
const lightHighlight = HighlightStyle.define([
  { tag: tags.propertyName, color: '#0b5394' },
  { tag: [tags.string, tags.special(tags.string)], color: '#a31515' },
  { tag: [tags.number, tags.bool, tags.null], color: '#116644' },
  { tag: tags.comment, color: '#5c6370', fontStyle: 'italic' },
  { tag: [tags.keyword, tags.definitionKeyword], color: '#7a0f8c' },
]);
const darkHighlight = HighlightStyle.define([
  { tag: tags.propertyName, color: '#9cdcfe' },
  { tag: [tags.string, tags.special(tags.string)], color: '#f2b38a' },
  { tag: [tags.number, tags.bool, tags.null], color: '#b5e8a8' },
  { tag: tags.comment, color: '#a0a8b4', fontStyle: 'italic' },
  { tag: [tags.keyword, tags.definitionKeyword], color: '#e0a8f0' },
]);

function themeFor(dark: boolean): Extension {
  return [
    EditorView.theme(
      {
        '&': {
          backgroundColor: 'var(--mantine-color-body)',
          color: 'var(--mantine-color-text)',
        },
        '.cm-gutters': {
          backgroundColor: 'var(--mantine-color-default)',
          color: 'var(--mantine-color-text)',
          borderRight: '1px solid var(--mantine-color-default-border)',
        },
        '.cm-activeLine, .cm-activeLineGutter': {
          backgroundColor: dark ? '#2c2e33' : '#eef2ff',
        },
        '.cm-content': { caretColor: 'var(--mantine-color-text)' },
        '.cm-tooltip': {
          backgroundColor: 'var(--mantine-color-body)',
          color: 'var(--mantine-color-text)',
        },
      },
      { dark },
    ),
    syntaxHighlighting(dark ? darkHighlight : lightHighlight),
  ];
}

export interface CodeEditorProps {
  /** The text at mount (the editor owns the text afterwards; remount with a key to replace it). */
  initial: string;
  label: string;
  onChange?(text: string): void;
  readOnly?: boolean;
  schema?: object;
  /** Problems from the server and the YAML parser, re-run after each edit (debounced). */
  lint?(text: string): Promise<Diagnostic[]>;
  complete?: CompletionSource;
  minHeight?: string;
}

/**
 * CodeMirror 6 over YAML, with the route schema's completion and hover. Tab is left to the page
 * (keyboard users move on with it); indent with the editor's own keys.
 */
export function CodeEditor(props: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView>(null);
  const theme = useRef(new Compartment());
  const dark = useComputedColorScheme('light') === 'dark';
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const extensions: Extension[] = [
      lineNumbers(),
      highlightActiveLineGutter(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      // Wrapped lines: the editor grows instead of scrolling, so no region is reachable only by mouse.
      EditorView.lineWrapping,
      yaml(),
      keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
      theme.current.of(themeFor(dark)),
      EditorView.contentAttributes.of({ 'aria-label': props.label }),
      EditorState.readOnly.of(props.readOnly ?? false),
      EditorView.editable.of(!(props.readOnly ?? false)),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) latest.current.onChange?.(update.state.doc.toString());
      }),
    ];
    if (props.schema) {
      extensions.push(
        stateExtensions(props.schema as JSONSchema7),
        yamlLanguage.data.of({ autocomplete: yamlCompletion() }),
        hoverTooltip(yamlSchemaHover()),
      );
    }
    if (props.complete) extensions.push(yamlLanguage.data.of({ autocomplete: props.complete }));
    extensions.push(autocompletion());
    if (props.lint) {
      extensions.push(
        lintGutter(),
        linter((v) => latest.current.lint?.(v.state.doc.toString()) ?? [], { delay: 400 }),
      );
    }
    const created = new EditorView({
      parent: host.current!,
      state: EditorState.create({ doc: props.initial, extensions }),
    });
    view.current = created;
    return () => created.destroy();
    // The editor is made once per mount: later prop changes reach it through `latest`.
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: theme.current.reconfigure(themeFor(dark)) });
  }, [dark]);

  return <div ref={host} style={{ minHeight: props.minHeight }} data-testid="code-editor" />;
}
