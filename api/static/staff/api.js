/* The workspace's API client: a lost session (401) goes back to the login form. */
import { createApi } from "../common/staff-ui.js";
import { sessionLost } from "../common/login.js";

export const api = createApi({
  onError(status) {
    if (status === 401) sessionLost();
  },
});

export function convUrl(id, suffix) {
  return "/api/staff/conversations/" + encodeURIComponent(id) + (suffix || "");
}
