import { Box, Text, type Key } from 'ink';

/**
 * One-line text input for ink, split into a pure view and a pure key reducer. Hand-written (ink has
 * no input component and ink-text-input is not a dependency); it needs only typing, backspace,
 * Enter and a mask for passphrases. The owner keeps the value and subscribes to keys once, so no
 * keystroke is lost while fields change (paste, a loaded machine).
 */
export interface TextFieldProps {
  label: string;
  value: string;
  /** shown dimmed and used when Enter is pressed on an empty field */
  placeholder?: string;
  mask?: boolean;
  error?: string;
}

export function TextField({ label, value, placeholder, mask, error }: TextFieldProps) {
  const shown = mask ? '*'.repeat(value.length) : value;
  return (
    <Box flexDirection="column">
      <Box>
        <Text bold>{label} </Text>
        {value === '' && placeholder !== undefined && !mask ? <Text dimColor>{placeholder}</Text> : <Text>{shown}</Text>}
        <Text inverse> </Text>
      </Box>
      {error ? <Text color="red">{error}</Text> : null}
    </Box>
  );
}

export type FieldEvent = { kind: 'edit'; value: string } | { kind: 'submit'; value: string } | { kind: 'none' };

/** What one key press does to a field's value. */
export function applyKey(value: string, input: string, key: Key, opts: { placeholder?: string; mask?: boolean } = {}): FieldEvent {
  if (key.return) return { kind: 'submit', value: value === '' && opts.placeholder !== undefined && !opts.mask ? opts.placeholder : value };
  // terminals send DEL (0x7f) for Backspace; ink reports it as `delete` on some and `backspace` on others
  if (key.backspace || key.delete) return { kind: 'edit', value: value.slice(0, -1) };
  if (key.ctrl || key.meta || key.tab || key.escape || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return { kind: 'none' };
  // pasted text arrives in one chunk; keep printable characters only
  const printable = [...input].filter((c) => c >= ' ' && c !== '\u007f').join('');
  return printable ? { kind: 'edit', value: value + printable } : { kind: 'none' };
}
