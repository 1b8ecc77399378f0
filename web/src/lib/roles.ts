import type { Role } from '../api/types';

/** Highest first: admin ⊇ operator ⊇ viewer. */
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` grants at least `needed`. */
export function hasRole(role: Role | null | undefined, needed: Role): boolean {
  if (!role || !(role in RANK)) return false;
  return RANK[role] >= RANK[needed];
}

/** The roles a user holding `role` may hand out (e.g. to an API key): its own and below. */
export function rolesUpTo(role: Role): Role[] {
  return ROLES.filter((r) => RANK[r] <= RANK[role]);
}

export const ROLE_LABEL: Record<Role, string> = {
  admin: 'Admin',
  operator: 'Operator',
  viewer: 'Viewer',
};

export const ROLE_HELP: Record<Role, string> = {
  admin: 'Full access, including users, settings and audit',
  operator: 'Manage resources and run container actions',
  viewer: 'Read-only access',
};
