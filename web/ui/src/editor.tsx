// The PromQL editor: CodeMirror with @prometheus-io/codemirror-promql (highlighting,
// autocomplete of functions, metric names, label names and values from Vigil's API, parse
// errors shown at their position).
import { useEffect, useRef } from 'preact/hooks';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap, placeholder as cmPlaceholder, drawSelection, highlightSpecialChars } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, insertNewlineAndIndent } from '@codemirror/commands';
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { bracketMatching, syntaxHighlighting, HighlightStyle } from '@codemirror/language';
import { lintKeymap } from '@codemirror/lint';
import { tags } from '@lezer/highlight';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';
import { prefix } from './api';

const highlight = HighlightStyle.define([
  { tag: tags.number, color: '#09885a' },
  { tag: tags.string, color: '#a31515' },
  { tag: tags.keyword, color: '#008080', fontWeight: 'bold' },
  { tag: tags.function(tags.variableName), color: '#008080' },
  { tag: tags.labelName, color: '#800000' },
  { tag: tags.operator },
  { tag: tags.modifier, color: '#008080', fontWeight: 'bold' },
  { tag: tags.paren },
  { tag: tags.squareBracket },
  { tag: tags.brace },
  { tag: tags.invalid, color: 'red' },
  { tag: tags.comment, color: '#888', fontStyle: 'italic' },
]);

let shared: PromQLExtension | null = null;
function promql(): PromQLExtension {
  if (!shared) {
    shared = new PromQLExtension().setComplete({
      remote: { url: location.origin + prefix, lookbackInterval: 12 * 60 * 60 * 1000, httpMethod: 'GET', httpErrorHandler: () => {} },
      maxMetricsMetadata: 10000,
    });
  }
  return shared;
}

export function PromQLEditor(props: { value: string; onChange: (v: string) => void; onExecute: () => void; placeholder?: string; class?: string }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const cb = useRef(props);
  cb.current = props;
  useEffect(() => {
    const state = EditorState.create({
      doc: props.value,
      extensions: [
        highlightSpecialChars(),
        history(),
        drawSelection(),
        bracketMatching(),
        closeBrackets(),
        autocompletion(),
        syntaxHighlighting(highlight),
        EditorView.lineWrapping,
        cmPlaceholder(props.placeholder || 'Expression (press Shift+Enter for newlines)'),
        promql().asExtension(),
        Prec.high(
          keymap.of([
            { key: 'Enter', run: () => { cb.current.onExecute(); return true; } },
            { key: 'Shift-Enter', run: insertNewlineAndIndent },
          ]),
        ),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) cb.current.onChange(u.state.doc.toString());
        }),
      ],
    });
    view.current = new EditorView({ state, parent: host.current! });
    return () => view.current?.destroy();
  }, []);
  // Outside changes (e.g. the URL) replace the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } });
    }
  }, [props.value]);
  return <div class={'editor ' + (props.class || '')} ref={host} />;
}
