/* 商品库: the shop's products and the facts the chat answers from (description,
 * attributes, aliases, stock, on-sale, Q&A pairs), and importing a CSV / JSON file.
 * A saved change is what the assistant tells the next customer who asks; nothing is
 * retrained. Built into #panel-catalogue; everything is rendered as text. */
import { $, ApiError, clear, confirmDialog, fmtTime, h, money, toast } from "../common/staff-ui.js";
import { api, qs } from "./api.js";
import { busy, errorText, failed } from "./ui.js";

const BASE = "/api/admin/catalogue";
const PAGE = 30;
const MODES = { "all-or-nothing": "全部成功才导入（有一行出错就都不导入）", "skip-invalid": "跳过出错的行，导入其余的行" };
const state = { built: false, q: "", category: "", offset: 0, total: 0, current: null, creating: false };
let searchTimer = null;

function field(label, input, extra) {
  return h("label", { class: "field" + (extra ? " " + extra : "") }, h("span", { class: "field-label" }, label), input);
}

function build() {
  const panel = clear($("panel-catalogue"));
  const search = h("input", { id: "catalogue-search", "data-testid": "catalogue-search", class: "input input-sm", type: "search",
    maxlength: 100, placeholder: "搜索 SKU、名称、别名…", "aria-label": "搜索商品" });
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.q = search.value.trim();
      state.offset = 0;
      reloadList().catch(failed);
    }, 250);
  });
  const category = h("select", { id: "catalogue-category", "data-testid": "catalogue-category", class: "input input-sm", "aria-label": "按类别筛选" },
    h("option", { value: "" }, "全部类别"));
  category.addEventListener("change", () => {
    state.category = category.value;
    state.offset = 0;
    reloadList().catch(failed);
  });
  const prev = h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "catalogue-prev" }, "上一页");
  const next = h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "catalogue-next" }, "下一页");
  prev.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    reloadList().catch(failed);
  });
  next.addEventListener("click", () => {
    state.offset += PAGE;
    reloadList().catch(failed);
  });
  const create = h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "catalogue-new" }, "新建商品");
  create.addEventListener("click", () => openEditor(null));
  panel.appendChild(h("aside", { class: "sidebar sidebar-wide" },
    h("div", { class: "sidebar-head" },
      h("div", { class: "customer-line" }, h("h2", { class: "h2" }, "商品库"), create),
      search, category),
    h("ul", { id: "catalogue-list", "data-testid": "catalogue-list", class: "customer-list", "aria-label": "商品列表" }),
    h("div", { class: "pager" }, prev, h("span", { id: "catalogue-page", class: "muted small" }), next)));

  panel.appendChild(h("section", { class: "content" },
    h("div", { class: "content-head" },
      h("div", null, h("h2", { class: "h1" }, "商品库"),
        h("p", { class: "muted small" }, "顾客问价格、库存、规格时，机器人直接用这里的资料回答：保存后下一条消息立即生效，无需重新训练。没有填写的信息，机器人会如实说“暂无该信息”并转人工。"))),
    importBox(),
    h("div", { id: "catalogue-empty", class: "empty empty-big" }, "从左侧选择一个商品查看和编辑，或新建商品、从文件导入。"),
    h("div", { id: "catalogue-detail", hidden: true })));
  state.built = true;
}

// ------------------------------------------------------------------ the list

export async function loadCatalogue() {
  if (!state.built) build();
  await reloadList();
}

async function reloadList() {
  const page = await api("GET", BASE + "/products" + qs({ q: state.q, category: state.category, limit: PAGE, offset: state.offset }));
  state.total = page.total;
  const select = $("catalogue-category");
  const chosen = select.value;
  clear(select).appendChild(h("option", { value: "" }, "全部类别"));
  page.categories.forEach((c) => select.appendChild(h("option", { value: c }, c)));
  select.value = page.categories.includes(chosen) ? chosen : "";
  const list = clear($("catalogue-list"));
  page.items.forEach((p) => list.appendChild(listItem(p)));
  if (!page.items.length) list.appendChild(h("li", { class: "empty" }, state.q ? "没有找到匹配的商品。" : "还没有商品。"));
  const pages = Math.max(1, Math.ceil(page.total / PAGE));
  $("catalogue-page").textContent = "第 " + (Math.floor(state.offset / PAGE) + 1) + " / " + pages + " 页，共 " + page.total + " 个";
  $("catalogue-prev").disabled = state.offset === 0;
  $("catalogue-next").disabled = state.offset + PAGE >= page.total;
}

function stockText(p) {
  if (!p.on_sale) return "已下架";
  if (p.stock <= 0) return "暂时缺货";
  return "库存 " + p.stock;
}

function listItem(p) {
  const active = state.current && state.current.sku === p.sku;
  const button = h("button", { type: "button", class: "customer-item" + (active ? " active" : ""), "data-testid": "catalogue-item", "data-sku": p.sku },
    h("span", { class: "customer-line" }, h("span", { class: "strong" }, p.name), h("span", { class: "muted small" }, money(p.price))),
    h("span", { class: "customer-line muted small" }, h("span", null, p.sku + " · " + p.category),
      h("span", { class: "pill " + (p.on_sale && p.stock > 0 ? "pill-on" : "pill-off") }, stockText(p))));
  button.addEventListener("click", () => openProduct(p.sku).catch(failed));
  return h("li", null, button);
}

// ------------------------------------------------------------------ the editor

async function openProduct(sku) {
  const product = await api("GET", BASE + "/products/" + encodeURIComponent(sku));
  openEditor(product);
  document.querySelectorAll("#catalogue-list [data-sku]").forEach((b) => b.classList.toggle("active", b.dataset.sku === sku));
}

function attributeRow(key, value) {
  const remove = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "attr-remove", "aria-label": "删除此属性" }, "删除");
  const row = h("div", { class: "row cat-attr", "data-testid": "attr-row" },
    h("input", { class: "input cat-attr-key", "data-testid": "attr-key", maxlength: 16, placeholder: "属性名，如 容量", value: key || "", "aria-label": "属性名" }),
    h("input", { class: "input field-grow", "data-testid": "attr-value", maxlength: 200, placeholder: "值，如 500ml", value: value || "", "aria-label": "属性值" }),
    remove);
  remove.addEventListener("click", () => row.remove());
  return row;
}

function openEditor(product) {
  state.current = product;
  state.creating = !product;
  const p = product || { sku: "", name: "", category: "", price: "", description: "", attributes: {}, aliases: [], stock: 0, on_sale: true, qas: [] };
  $("catalogue-empty").hidden = true;
  const detail = clear($("catalogue-detail"));
  detail.hidden = false;

  const f = {
    sku: h("input", { class: "input", "data-testid": "catalogue-sku", maxlength: 32, value: p.sku, placeholder: "字母、数字、- 和 _", disabled: !!product }),
    name: h("input", { class: "input", "data-testid": "catalogue-name", maxlength: 128, value: p.name }),
    category: h("input", { class: "input", "data-testid": "catalogue-category-input", maxlength: 32, value: p.category, placeholder: "如 杯具" }),
    price: h("input", { class: "input", "data-testid": "catalogue-price", inputmode: "decimal", maxlength: 11, value: p.price, placeholder: "如 89.00" }),
    stock: h("input", { class: "input input-num", "data-testid": "catalogue-stock", type: "number", min: 0, max: 1000000, step: 1, value: String(p.stock) }),
    on_sale: h("input", { type: "checkbox", "data-testid": "catalogue-on-sale", checked: p.on_sale }),
    description: h("textarea", { class: "input textarea", "data-testid": "catalogue-description", rows: 3, maxlength: 2000 }),
    aliases: h("input", { class: "input", "data-testid": "catalogue-aliases", maxlength: 800, value: (p.aliases || []).join("、"),
      placeholder: "顾客常用的叫法，用顿号或逗号分隔，如 保温杯、不锈钢杯" }),
  };
  f.description.value = p.description || "";
  const attrs = h("div", { id: "catalogue-attrs", "data-testid": "catalogue-attrs" });
  Object.entries(p.attributes || {}).forEach(([k, v]) => attrs.appendChild(attributeRow(k, v)));
  const addAttr = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "attr-add" }, "添加属性");
  addAttr.addEventListener("click", () => {
    const row = attributeRow("", "");
    attrs.appendChild(row);
    row.querySelector("input").focus();
  });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "catalogue-error" });
  const save = h("button", { type: "button", class: "btn btn-primary", "data-testid": "catalogue-save" }, product ? "保存" : "创建商品");
  save.addEventListener("click", () => busy(save, () => saveProduct(f, attrs, error)));
  const actions = h("div", { class: "actions" }, save);
  if (product) {
    const del = h("button", { type: "button", class: "btn btn-ghost", "data-testid": "catalogue-delete" }, "删除商品");
    del.addEventListener("click", () => busy(del, () => deleteProduct(product, error)));
    actions.appendChild(del);
  }

  detail.appendChild(h("section", { class: "card", "data-testid": "catalogue-editor" },
    h("div", { class: "card-head" },
      h("h3", { class: "h3", "data-testid": "catalogue-title" }, product ? product.name + "（" + product.sku + "）" : "新建商品"),
      product ? h("span", { class: "muted small", "data-testid": "catalogue-updated" }, product.updated_by + " 更新于 " + fmtTime(product.updated_at)) : null),
    h("div", { class: "form-grid" },
      field("SKU", f.sku), field("名称", f.name), field("类别", f.category), field("价格（元）", f.price),
      field("库存（件，0 = 暂时缺货）", f.stock),
      h("label", { class: "check" }, f.on_sale, h("span", null, "在售（取消勾选即下架）")),
      field("描述", f.description, "span-2"), field("别名", f.aliases, "span-2")),
    h("div", { class: "card-head" }, h("h3", { class: "h3" }, "属性 ", h("span", { class: "muted small" }, "（最多 30 项；属性名最多 16 字，值最多 200 字）")), addAttr),
    attrs, error, actions));

  if (product) detail.appendChild(qaSection(product));
  (product ? f.name : f.sku).focus();
}

function splitAliases(text) {
  return text.split(/[、,，|\n]/).map((s) => s.trim()).filter(Boolean);
}

function collectAttributes(attrs) {
  const out = {};
  for (const row of attrs.querySelectorAll("[data-testid=attr-row]")) {
    const key = row.querySelector("[data-testid=attr-key]").value.trim();
    const value = row.querySelector("[data-testid=attr-value]").value.trim();
    if (!key && !value) continue;
    if (!key || !value) throw new Error("属性“" + (key || value) + "”缺少" + (key ? "值" : "属性名"));
    if (key in out) throw new Error("属性“" + key + "”写了两次");
    out[key] = value;
  }
  return out;
}

async function saveProduct(f, attrs, error) {
  error.textContent = "";
  let body;
  try {
    const stock = Number(f.stock.value);
    if (!Number.isInteger(stock) || stock < 0) throw new Error("库存应为不小于 0 的整数");
    const price = f.price.value.trim();
    if (!/^\d{1,8}(\.\d{1,2})?$/.test(price)) throw new Error("价格应为金额，如 89.00（最多两位小数）");
    body = { name: f.name.value.trim(), category: f.category.value.trim(), price: price, stock: stock,
      on_sale: f.on_sale.checked, description: f.description.value.trim(), aliases: splitAliases(f.aliases.value),
      attributes: collectAttributes(attrs) };
  } catch (err) {
    error.textContent = err.message;
    return;
  }
  try {
    let saved;
    if (state.creating) {
      body.sku = f.sku.value.trim();
      saved = await api("POST", BASE + "/products", body);
      toast("已创建：" + saved.name);
    } else {
      saved = await api("PATCH", BASE + "/products/" + encodeURIComponent(state.current.sku), body);
      toast("已保存：" + saved.name);
    }
    openEditor(saved);
    await reloadList();
  } catch (err) {
    if (err instanceof ApiError) error.textContent = err.detail;
    else throw err;
  }
}

async function deleteProduct(product, error) {
  if (!(await confirmDialog("删除商品“" + product.name + "”？删除后机器人将不再认识它。已出现在订单中的商品不能删除，请改为下架。", "删除"))) return;
  try {
    await api("DELETE", BASE + "/products/" + encodeURIComponent(product.sku));
    toast("已删除：" + product.name);
    state.current = null;
    $("catalogue-detail").hidden = true;
    $("catalogue-empty").hidden = false;
    await reloadList();
  } catch (err) {
    error.textContent = errorText(err);
  }
}

// ------------------------------------------------------------------ Q&A

function qaSection(product) {
  const list = h("div", { "data-testid": "qa-list" });
  product.qas.forEach((qa) => list.appendChild(qaRow(product, qa)));
  const question = h("input", { class: "input", "data-testid": "qa-new-question", maxlength: 200, placeholder: "顾客的问题，如 能装开水吗" });
  const answer = h("textarea", { class: "input textarea", "data-testid": "qa-new-answer", rows: 2, maxlength: 500, placeholder: "回答，如 可以，耐温 100°C" });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "qa-error" });
  const add = h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "qa-add" }, "添加问答");
  add.addEventListener("click", () => busy(add, async () => {
    error.textContent = "";
    if (!question.value.trim() || !answer.value.trim()) {
      error.textContent = "请填写问题和回答";
      return;
    }
    try {
      await api("POST", BASE + "/products/" + encodeURIComponent(product.sku) + "/qas",
        { question: question.value.trim(), answer: answer.value.trim() });
      toast("已添加问答");
      await openProduct(product.sku);
    } catch (err) {
      error.textContent = errorText(err);
    }
  }));
  return h("section", { class: "card", "data-testid": "qa-section" },
    h("h3", { class: "h3" }, "常见问答 ", h("span", { class: "muted small" }, "（顾客的问题与这里的问题足够接近时，机器人用这里的回答）")),
    list, h("div", { class: "cat-qa cat-qa-new" }, field("新问题", question), field("回答", answer)), error, h("div", { class: "actions" }, add));
}

function qaRow(product, qa) {
  const url = BASE + "/products/" + encodeURIComponent(product.sku) + "/qas/" + qa.id;
  const question = h("input", { class: "input", "data-testid": "qa-question", maxlength: 200, value: qa.question, "aria-label": "问题" });
  const answer = h("textarea", { class: "input textarea", "data-testid": "qa-answer", rows: 2, maxlength: 500, "aria-label": "回答" });
  answer.value = qa.answer;
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "qa-save" }, "保存");
  const del = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "qa-delete" }, "删除");
  const row = h("div", { class: "cat-qa", "data-testid": "qa-row", "data-qa-id": qa.id },
    field("问题", question), field("回答", answer), h("div", { class: "actions" }, save, del), error);
  save.addEventListener("click", () => busy(save, async () => {
    error.textContent = "";
    try {
      await api("PATCH", url, { question: question.value.trim(), answer: answer.value.trim() });
      toast("问答已保存");
    } catch (err) {
      error.textContent = errorText(err);
    }
  }));
  del.addEventListener("click", () => busy(del, async () => {
    if (!(await confirmDialog("删除这条问答？", "删除"))) return;
    try {
      await api("DELETE", url);
      row.remove();
      toast("问答已删除");
    } catch (err) {
      error.textContent = errorText(err);
    }
  }));
  return row;
}

// ------------------------------------------------------------------ import

function importBox() {
  const file = h("input", { type: "file", accept: ".csv,.json,text/csv,application/json", "data-testid": "catalogue-file", class: "input" });
  const mode = h("select", { class: "input", "data-testid": "catalogue-import-mode" });
  Object.entries(MODES).forEach(([k, v]) => mode.appendChild(h("option", { value: k }, v)));
  const go = h("button", { type: "button", class: "btn btn-primary", "data-testid": "catalogue-import" }, "导入");
  const report = h("div", { "data-testid": "catalogue-report", "aria-live": "polite" });
  go.addEventListener("click", () => busy(go, () => importFile(file, mode.value, report)));
  return h("details", { class: "card", "data-testid": "catalogue-import-box" },
    h("summary", { class: "h3" }, "从文件导入（CSV / JSON）"),
    h("p", { class: "muted small" }, "按 SKU 新增或更新商品。CSV 表头：sku,name,category,price,stock,on_sale,description,aliases,attributes,qa；别名用 | 分隔，属性写成 属性名=值 并用 | 分隔，问答写成 问题=>回答 并用 || 分隔。JSON 为商品对象的列表，字段相同。"),
    h("div", { class: "row" }, field("文件", file, "field-grow"), field("导入方式", mode), go),
    report);
}

async function importFile(input, mode, report) {
  clear(report);
  const file = input.files && input.files[0];
  if (!file) {
    report.appendChild(h("p", { class: "form-error" }, "请先选择一个 .csv 或 .json 文件"));
    return;
  }
  const json = /\.json$/i.test(file.name);
  let res;
  try {
    res = await fetch(BASE + "/import" + qs({ mode: mode, filename: file.name }), {
      method: "POST", credentials: "same-origin", cache: "no-store", body: file,
      headers: { Accept: "application/json", "X-Requested-With": "fetch", "Content-Type": json ? "application/json" : "text/csv" },
    });
  } catch (_) {
    report.appendChild(h("p", { class: "form-error" }, "网络连接失败，请检查网络后重试。"));
    return;
  }
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    data = null;
  }
  if (!res.ok) {
    report.appendChild(h("p", { class: "form-error", "data-testid": "catalogue-report-error" },
      (data && typeof data.detail === "string" ? data.detail : "导入失败（" + res.status + "）")));
    return;
  }
  showReport(report, data);
  if (data.created || data.updated) await reloadList();
}

function showReport(report, r) {
  let summary;
  if (r.ok) summary = "导入完成：新增 " + r.created + " 个，更新 " + r.updated + " 个。";
  else if (r.mode === "all-or-nothing") summary = "没有导入任何商品：" + r.errors.length + " 处问题，请修改文件后重新导入（或选择“跳过出错的行”）。";
  else summary = "已导入正确的行：新增 " + r.created + " 个，更新 " + r.updated + " 个；跳过 " + r.skipped + " 行。";
  report.appendChild(h("p", { class: r.ok ? "strong" : "form-error", "data-testid": "catalogue-report-summary" }, summary));
  if (!r.errors.length) return;
  const body = h("tbody");
  r.errors.forEach((e) => body.appendChild(h("tr", { "data-testid": "catalogue-report-row", "data-line": e.line },
    h("td", { class: "num" }, "第 " + e.line + " 行"), h("td", null, e.sku || ""), h("td", null, e.message))));
  report.appendChild(h("div", { class: "table-wrap" },
    h("table", { class: "table" }, h("thead", null, h("tr", null, h("th", null, "行号"), h("th", null, "SKU"), h("th", null, "问题"))), body)));
}
