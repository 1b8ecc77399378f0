// The form pattern: values, client-side checks and the server's answer in one hook. A server
// error that names a field (the error body's `field`, e.g. `name` or `ports[0].host`) is shown
// under that field; any other error is shown at the top of the form.
//
//   const form = useForm({ initial: { name: '' }, validate, onSubmit: (v) => api.post(…, v) });
//   <Dialog onSubmit={form.handleSubmit} …>
//     <FormError form={form} />
//     <FormField form={form} name="name" label="Name">{(p) => <input {...p} />}</FormField>
//   </Dialog>

import { useCallback, useId, useMemo, useRef, useState, type ChangeEvent, type ReactNode } from 'react';
import { errorMessage, isApiError } from '../api/client';
import { Field } from './ui';

/** Messages by field name (or dotted path); undefined entries mean no error. */
export type FieldErrors = Record<string, string | undefined>;

function defined(errors: FieldErrors): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
}

export interface UseFormOptions<V> {
  initial: V;
  /** Client-side checks; an empty object means valid. */
  validate?: (values: V) => FieldErrors;
  onSubmit: (values: V) => unknown;
  /** Called with what `onSubmit` resolved to. */
  onSuccess?: (result: unknown, values: V) => void;
  /** Show the client checks while typing, not only after a submit was tried. */
  liveValidation?: boolean;
}

export interface FormState<V> {
  values: V;
  setValue: <K extends keyof V>(name: K, value: V[K]) => void;
  setValues: (patch: Partial<V>) => void;
  /** Errors by field (client checks first, then the server's). */
  errors: Record<string, string>;
  /** An error not about a field the form shows. */
  formError: unknown;
  submitting: boolean;
  /** Whether a submit was tried (client errors are shown from then on). */
  submitted: boolean;
  handleSubmit: (e?: { preventDefault?: () => void }) => Promise<void>;
  reset: (values?: V) => void;
  /** The first error of `name` or of anything below it (`ports` covers `ports[0].host`). */
  errorFor: (name: string) => string | undefined;
  /** Declares a field the form shows (FormField does it); server errors for others go to the top. */
  register: (name: string) => void;
}

/** Whether the error path `path` is `name` or lies below it (`name.x`, `name[0]…`). */
export function pathUnder(path: string, name: string): boolean {
  return path === name || path.startsWith(`${name}.`) || path.startsWith(`${name}[`);
}

/**
 * Splits a server error into a field error (when it names a field the form shows) or a form
 * error. Field names are matched exactly or as a parent of the error's path.
 */
export function routeServerError(error: unknown, fields: readonly string[]): { field: string; message: string } | null {
  if (!isApiError(error) || !error.field) return null;
  const path = error.field;
  const shown = fields.filter((f) => pathUnder(path, f)).sort((a, b) => b.length - a.length)[0];
  return shown ? { field: path, message: error.message } : null;
}

export function useForm<V extends object>(opts: UseFormOptions<V>): FormState<V> {
  const [values, setAll] = useState<V>(opts.initial);
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);
  const [submitted, setSubmitted] = useState(false);
  const fields = useRef(new Set<string>());
  const optsRef = useRef(opts);
  optsRef.current = opts;
  const valuesRef = useRef(values);
  valuesRef.current = values;

  const setValue = useCallback(<K extends keyof V>(name: K, value: V[K]) => {
    setAll((v) => ({ ...v, [name]: value }));
    // The server's verdict on a field no longer holds once the field changed.
    setServerErrors((e) => {
      const key = String(name);
      const left = Object.fromEntries(Object.entries(e).filter(([k]) => !pathUnder(k, key)));
      return Object.keys(left).length === Object.keys(e).length ? e : left;
    });
  }, []);
  const setValues = useCallback((patch: Partial<V>) => setAll((v) => ({ ...v, ...patch })), []);

  const handleSubmit = useCallback(
    async (e?: { preventDefault?: () => void }) => {
      e?.preventDefault?.();
      const { validate, onSubmit, onSuccess } = optsRef.current;
      setSubmitted(true);
      const current = valuesRef.current;
      const found = defined(validate ? validate(current) : {});
      setClientErrors(found);
      setServerErrors({});
      setFormError(null);
      if (Object.keys(found).length > 0) return;
      setSubmitting(true);
      try {
        const result = await onSubmit(current);
        onSuccess?.(result, current);
      } catch (err) {
        const routed = routeServerError(err, [...fields.current]);
        if (routed) setServerErrors({ [routed.field]: routed.message });
        else setFormError(err);
      } finally {
        setSubmitting(false);
      }
    },
    [],
  );

  const reset = useCallback((next?: V) => {
    setAll(next ?? optsRef.current.initial);
    setClientErrors({});
    setServerErrors({});
    setFormError(null);
    setSubmitted(false);
  }, []);

  const { validate, liveValidation } = opts;
  const live = useMemo(() => (liveValidation && validate ? defined(validate(values)) : {}), [liveValidation, validate, values]);
  const errors = useMemo(() => ({ ...serverErrors, ...(submitted ? clientErrors : {}), ...live }), [serverErrors, clientErrors, submitted, live]);
  const errorFor = useCallback(
    (name: string) => {
      const hit = Object.entries(errors).find(([k]) => pathUnder(k, name));
      return hit?.[1];
    },
    [errors],
  );
  const register = useCallback((name: string) => {
    fields.current.add(name);
  }, []);

  return { values, setValue, setValues, errors, formError, submitting, submitted, handleSubmit, reset, errorFor, register };
}

/** Props for the input a FormField renders. */
export interface FieldInputProps {
  id: string;
  name: string;
  value: string;
  onChange: (e: ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) => void;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
  disabled: boolean;
}

/**
 * A labelled field bound to `form.values[name]` (a string value), with its error below. For
 * other kinds of values pass `value`/`onChange` yourself through `children(props)`.
 */
export function FormField<V extends object>({
  form,
  name,
  label,
  hint,
  children,
}: {
  form: FormState<V>;
  name: Extract<keyof V, string> | string;
  label: string;
  hint?: ReactNode;
  children: (props: FieldInputProps) => ReactNode;
}) {
  const id = `${useId()}-${name}`;
  form.register(name);
  const error = form.errorFor(name);
  const raw = (form.values as Record<string, unknown>)[name];
  const props: FieldInputProps = {
    id,
    name,
    value: raw === undefined || raw === null ? '' : String(raw),
    onChange: (e) => form.setValue(name as keyof V, e.target.value as V[keyof V]),
    'aria-invalid': error ? true : undefined,
    'aria-describedby': error ? `${id}-error` : hint ? `${id}-hint` : undefined,
    disabled: form.submitting,
  };
  return (
    <Field label={label} htmlFor={id} hint={hint} error={error}>
      {children(props)}
    </Field>
  );
}

/** The form-level error (anything not shown on a field). */
export function FormError<V extends object>({ form }: { form: FormState<V> }) {
  if (!form.formError) return null;
  const e = form.formError;
  return (
    <p className="form-error" role="alert" data-testid="form-error">
      {isApiError(e) && e.field ? `${e.field}: ` : ''}
      {errorMessage(e)}
    </p>
  );
}
