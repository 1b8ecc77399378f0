// A plain monospace editor with line numbers, for compose files and env text. Tab indents by two
// spaces (Shift+Tab outdents); press Escape first and Tab moves focus on, so the editor is never
// a keyboard trap.

import { useRef, useState, type KeyboardEvent } from 'react';

const INDENT = '  ';

export function CodeEditor({
  id,
  value,
  onChange,
  label,
  readOnly,
  rows,
  invalid,
  describedBy,
  testId,
  placeholder,
}: {
  id?: string;
  value: string;
  onChange?: (next: string) => void;
  label: string;
  readOnly?: boolean;
  rows?: number;
  invalid?: boolean;
  describedBy?: string;
  testId?: string;
  placeholder?: string;
}) {
  const gutter = useRef<HTMLDivElement>(null);
  const [tabMovesFocus, setTabMovesFocus] = useState(false);
  const lines = Math.max(1, value.split('\n').length);

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      setTabMovesFocus(true);
      return;
    }
    if (e.key !== 'Tab' || readOnly || tabMovesFocus || !onChange) {
      if (e.key !== 'Tab') setTabMovesFocus(false);
      return;
    }
    e.preventDefault();
    const el = e.currentTarget;
    const { selectionStart: start, selectionEnd: end } = el;
    const lineStart = value.lastIndexOf('\n', start - 1) + 1;
    let next: string;
    let caret: number;
    if (e.shiftKey) {
      const removable = value.slice(lineStart, lineStart + INDENT.length).match(/^ {1,2}/)?.[0].length ?? 0;
      next = value.slice(0, lineStart) + value.slice(lineStart + removable);
      caret = Math.max(lineStart, start - removable);
    } else {
      next = value.slice(0, start) + INDENT + value.slice(end);
      caret = start + INDENT.length;
    }
    onChange(next);
    requestAnimationFrame(() => el.setSelectionRange(caret, caret));
  };

  return (
    <div className={`code-editor${invalid ? ' is-invalid' : ''}${readOnly ? ' is-readonly' : ''}`}>
      <div className="code-gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lines }, (_, i) => (
          <div key={i}>{i + 1}</div>
        ))}
      </div>
      <textarea
        id={id}
        className="code-input"
        value={value}
        onChange={(e) => onChange?.(e.target.value)}
        onKeyDown={onKeyDown}
        onBlur={() => setTabMovesFocus(false)}
        onScroll={(e) => {
          if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
        }}
        readOnly={readOnly}
        rows={rows ?? Math.min(28, Math.max(8, lines + 1))}
        wrap="off"
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        aria-label={label}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        placeholder={placeholder}
        data-testid={testId}
      />
    </div>
  );
}
