/* What every screen of the console reads: who is logged in, the stages (from
 * /api/admin/stages) and which tabs have loaded. Each screen keeps its own state. */
export const session = {
  me: null,
  stages: [], // [{name, label}]
  loaded: {}, // tab -> true once it has been loaded
};
