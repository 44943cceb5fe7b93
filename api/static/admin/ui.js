/* The console's small helpers: errors as toasts, busy buttons, dialogs, stage pills. */
import { $, ApiError, h, toast } from "../common/staff-ui.js";
import { stageName } from "../common/labels.js";

export const PAGE = 50;

export function failed(err) {
  toast(err instanceof ApiError ? err.detail : "操作失败：" + String(err), "error");
}

export async function busy(button, fn) {
  if (button) {
    if (button.disabled) return undefined;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await fn();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

export function openDialog(id) {
  const dialog = $(id);
  if (!dialog.open) dialog.showModal();
}

export function stagePill(stage) {
  return h("span", { class: "stage-pill stage-" + (stage || "none"), "data-stage": stage }, stageName(stage));
}

export function errorText(err) {
  return err instanceof ApiError ? err.detail : String(err);
}
