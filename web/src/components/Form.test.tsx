// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { click, render, type, type Rendered } from '../test/render';
import { FormError, FormField, pathUnder, routeServerError, useForm, type FieldErrors } from './Form';

describe('routing a server error', () => {
  it('matches a field or a parent of the error path', () => {
    expect(pathUnder('ports[0].host', 'ports')).toBe(true);
    expect(pathUnder('ports[0].host', 'ports[0].host')).toBe(true);
    expect(pathUnder('env.A', 'env')).toBe(true);
    expect(pathUnder('portsx', 'ports')).toBe(false);
    const e = new ApiError(400, 'host must be an IP address', 'invalid', null, null, 'ports[0].host');
    expect(routeServerError(e, ['name', 'ports'])).toEqual({ field: 'ports[0].host', message: 'host must be an IP address' });
    expect(routeServerError(e, ['name'])).toBeNull();
    expect(routeServerError(new ApiError(409, 'taken'), ['name'])).toBeNull();
    expect(routeServerError(new Error('x'), ['name'])).toBeNull();
  });
});

let submitted: { name: string; image: string }[] = [];
let answer: () => Promise<unknown> = async () => ({});

function Demo({ validate }: { validate?: (v: { name: string; image: string }) => FieldErrors }) {
  const form = useForm({
    initial: { name: '', image: '' },
    validate,
    onSubmit: (v) => {
      submitted.push(v);
      return answer();
    },
  });
  return (
    <form onSubmit={form.handleSubmit} noValidate>
      <FormError form={form} />
      <FormField form={form} name="name" label="Name">
        {(p) => <input {...p} />}
      </FormField>
      <FormField form={form} name="image" label="Image">
        {(p) => <input {...p} />}
      </FormField>
      <button type="submit">Save</button>
    </form>
  );
}

const input = (r: Rendered, name: string) => r.container.querySelector(`input[name="${name}"]`) as HTMLInputElement;
const errorOf = (r: Rendered, name: string) => {
  const el = input(r, name);
  const id = el.getAttribute('aria-describedby');
  return id ? (r.container.querySelector(`[id="${id}"]`)?.textContent ?? null) : null;
};

let r: Rendered | null = null;
afterEach(() => {
  r?.unmount();
  r = null;
  submitted = [];
  answer = async () => ({});
});

describe('the form pattern', () => {
  it('shows a server validation error on the field it names', async () => {
    answer = async () => {
      throw new ApiError(400, 'image reference is not valid', 'invalid_input', 'req-1', null, 'image');
    };
    r = await render(<Demo />);
    await type(input(r, 'name'), 'web');
    await type(input(r, 'image'), 'Not A Ref');
    await click(r.container.querySelector('button[type="submit"]'));
    expect(submitted).toEqual([{ name: 'web', image: 'Not A Ref' }]);
    expect(errorOf(r, 'image')).toBe('image reference is not valid');
    expect(input(r, 'image').getAttribute('aria-invalid')).toBe('true');
    expect(errorOf(r, 'name')).toBeNull();
    expect(r.container.querySelector('[data-testid="form-error"]')).toBeNull();

    // Editing the field clears the server's verdict on it.
    await type(input(r, 'image'), 'busybox');
    expect(errorOf(r, 'image')).toBeNull();
  });

  it('shows an error about no shown field at the form level', async () => {
    answer = async () => {
      throw new ApiError(400, 'must be 1–500', 'invalid_input', null, null, 'limit');
    };
    r = await render(<Demo />);
    await click(r.container.querySelector('button[type="submit"]'));
    expect(r.container.querySelector('[data-testid="form-error"]')?.textContent).toBe('limit: must be 1–500');

    answer = async () => {
      throw new ApiError(409, 'a container with that name exists', 'conflict');
    };
    await click(r.container.querySelector('button[type="submit"]'));
    expect(r.container.querySelector('[data-testid="form-error"]')?.textContent).toBe('a container with that name exists');
  });

  it('runs the client checks first and does not submit while they fail', async () => {
    r = await render(<Demo validate={(v): FieldErrors => (v.name ? {} : { name: 'Name is required' })} />);
    expect(errorOf(r, 'name')).toBeNull();
    await click(r.container.querySelector('button[type="submit"]'));
    expect(submitted).toEqual([]);
    expect(errorOf(r, 'name')).toBe('Name is required');
    await type(input(r, 'name'), 'web');
    await click(r.container.querySelector('button[type="submit"]'));
    expect(submitted).toEqual([{ name: 'web', image: '' }]);
    expect(errorOf(r, 'name')).toBeNull();
  });

  it('shows client checks while typing with liveValidation', async () => {
    function Live() {
      const form = useForm({
        initial: { name: '', image: '' },
        liveValidation: true,
        validate: (v): FieldErrors => ({ name: v.name.length === 1 ? 'Too short' : undefined }),
        onSubmit: () => undefined,
      });
      return (
        <FormField form={form} name="name" label="Name">
          {(p) => <input {...p} />}
        </FormField>
      );
    }
    r = await render(<Live />);
    expect(errorOf(r, 'name')).toBeNull();
    await type(input(r, 'name'), 'a');
    expect(errorOf(r, 'name')).toBe('Too short');
    await type(input(r, 'name'), 'ab');
    expect(errorOf(r, 'name')).toBeNull();
  });
});
