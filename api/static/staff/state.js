/* Who is logged in, and whether the workspace is running (polling, live notices).
 * Each screen keeps its own state in its module; this is what they all read. */
export const session = {
  me: null,
  running: false, // polling on (logged in)
};

export function isAdmin() {
  return !!(session.me && session.me.role === "admin");
}

export function myId() {
  return session.me ? session.me.id : null;
}
