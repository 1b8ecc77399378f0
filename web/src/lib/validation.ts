/** Minimum password length the master accepts (setup, user creation, password change). */
export const MIN_PASSWORD = 10;
