/** The audit module's options (its own file: the controller needs it without importing the module). */
export const AUDIT_OPTIONS = Symbol('AUDIT_OPTIONS');
