/* extranet.js: sign-in and in-browser decryption of an extranet zone.
 *
 * Plain modern JavaScript, no dependency, no eval, no inline code: it works under
 * Content-Security-Policy "default-src 'self'". Formats are described in
 * docs/protection.md and implemented on the Python side in extranet/protect/.
 *
 * - On the login page (form#xn-login): derives the lookup tag of the user name, opens
 *   the person's keyring entry with their password and stores non-extractable
 *   CryptoKeys in IndexedDB (session-only, or "remembered" until an expiry date).
 * - On an encrypted page (script#xn-data): decrypts it with the stored keys and
 *   replaces the document; attachments (a[download]) are decrypted on click.
 */
(() => {
  "use strict";
  if (window.__extranetStarted) return;
  window.__extranetStarted = true;


  const rootEl = document.documentElement;
  const ROOT = new URL(rootEl.dataset.xnRoot || "./", location.href);
  const ZONE = rootEl.dataset.xnZone || "zone";
  const STATIC = rootEl.dataset.xnStatic || "static/";
  // the strings of the page's language, from the catalogue (extranet/messages.py), in the page itself
  const T = (() => {
    try { return JSON.parse(document.getElementById("xn-texts").textContent); } catch (e) { return {}; }
  })();
  const LOGIN_URL = new URL("login.html", ROOT);
  const KEYRING_URL = new URL("keyring.json", ROOT);
  const STATE_ID = ZONE + "@" + ROOT.pathname;
  const COOKIE = "xn_" + ZONE.replace(/[^A-Za-z0-9_-]/g, "_");
  const SESSION_MS = 12 * 3600 * 1000;
  const MAGIC = [0x58, 0x4e, 0x45, 0x31]; // "XNE1"
  const HEADER = 25;
  const te = (s) => new TextEncoder().encode(s);
  const subtle = window.crypto && window.crypto.subtle;

  // ---- bytes -------------------------------------------------------------
  const fromB64 = (s) =>
    Uint8Array.fromBase64 ? Uint8Array.fromBase64(s) : Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const toB64 = (u8) => (u8.toBase64 ? u8.toBase64() : btoa(String.fromCharCode(...u8)));
  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");
  const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  // ---- crypto primitives ---------------------------------------------------
  async function pbkdf2Bits(secret, salt, iterations) {
    const base = await subtle.importKey("raw", secret, "PBKDF2", false, ["deriveBits"]);
    const bits = await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256);
    return new Uint8Array(bits);
  }

  async function pbkdf2AesKey(secret, salt, iterations) {
    const base = await subtle.importKey("raw", secret, "PBKDF2", false, ["deriveKey"]);
    return subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations },
      base, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
  }

  async function hmacBytes(keyBytes, data) {
    const key = await subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await subtle.sign("HMAC", key, data));
  }

  async function aeadOpen(key, data, aad) {
    if (data.length < 28) return null;
    try {
      const plain = await subtle.decrypt(
        { name: "AES-GCM", iv: data.subarray(0, 12), additionalData: aad }, key, data.subarray(12));
      return new Uint8Array(plain);
    } catch (err) {
      return null;
    }
  }

  async function contentKey(secret) {
    const base = await subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
    const params = (info) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: te(info) });
    const enc = await subtle.deriveKey(params("extranet/v1 content encryption"), base,
      { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
    const hint = await subtle.deriveKey(params("extranet/v1 content hint"), base,
      { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
    return { enc, hint };
  }

  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  /** A payload without its padding (flag bit 1): the bytes before the last 0x80 of it. */
  function unpad(flags, payload) {
    if (!(flags & 2)) return payload;
    let end = payload.length - 1;
    while (end >= 0 && payload[end] === 0) end--;
    if (end < 0 || payload[end] !== 0x80) throw new Error("padding");
    return payload.subarray(0, end);
  }

  /** Plaintext of a blob, null if none of `keys` is its key; throws if it is damaged. */
  async function openBlob(keys, blob) {
    if (blob.length < HEADER + 16 || !sameBytes(blob.subarray(0, 4), MAGIC)) throw new Error("format");
    const nonce = blob.subarray(5, 17);
    const hint = blob.subarray(17, HEADER);
    for (const key of keys) {
      const mark = new Uint8Array(await subtle.sign("HMAC", key.hint, nonce)).subarray(0, 8);
      if (!sameBytes(mark, hint)) continue;
      const plain = new Uint8Array(await subtle.decrypt(
        { name: "AES-GCM", iv: nonce, additionalData: blob.subarray(0, HEADER) }, key.enc, blob.subarray(HEADER)));
      return blob[4] & 1 ? inflate(unpad(blob[4], plain)) : unpad(blob[4], plain);
    }
    return null;
  }

  // ---- keyring -------------------------------------------------------------
  const ENTRY_AAD = te("extranet/v1 keyring entry");
  const WRAP_AAD = te("extranet/v1 wrapped keys");
  const normalize = (name) => name.trim().normalize("NFC").toLowerCase();

  /**
   * The keyring, fetched with the person's own user name and password: where the server adds
   * its basic-auth layer (the generated snippets), it checks them on this file and the browser
   * then sends them with every request of the zone, so nobody logs in twice; a server without
   * that layer ignores them. Null when the server refuses them.
   */
  function fetchKeyringAs(username, password) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("GET", KEYRING_URL.href, true, normalize(username), password);
      xhr.setRequestHeader("Cache-Control", "no-cache");
      xhr.onload = () => {
        if (xhr.status === 401 || xhr.status === 403) return resolve(null);
        if (xhr.status !== 200) return reject(new Error("keyring " + xhr.status));
        try {
          const keyring = JSON.parse(xhr.responseText);
          if (keyring.format !== "extranet-keyring-1") throw new Error("keyring format");
          resolve(keyring);
        } catch (err) {
          reject(err);
        }
      };
      xhr.onerror = () => reject(new Error("keyring unreachable"));
      xhr.send();
    });
  }

  async function fetchKeyring() {
    const response = await fetch(KEYRING_URL, { cache: "no-cache", credentials: "same-origin" });
    if (!response.ok) throw new Error("keyring " + response.status);
    const keyring = await response.json();
    if (keyring.format !== "extranet-keyring-1") throw new Error("keyring format");
    return keyring;
  }

  async function keysFromBody(body) {
    const count = (body[0] << 8) | body[1];
    const keys = [];
    for (let i = 0; i < count; i++) keys.push(await contentKey(body.slice(2 + 32 * i, 34 + 32 * i)));
    return keys;
  }

  /** The same work whether the user exists or not, and whether the password is right. */
  async function unlock(keyring, username, password) {
    const t = await pbkdf2Bits(te(normalize(username)), fromB64(keyring.salt), keyring.tag_iterations);
    const tag = toB64((await hmacBytes(t, te("tag"))).subarray(0, 16));
    const entryKey = await subtle.importKey("raw", await hmacBytes(t, te("entry key")), "AES-GCM", false, ["decrypt"]);
    const found = Object.prototype.hasOwnProperty.call(keyring.entries, tag) ? keyring.entries[tag] : null;
    let inner = found ? await aeadOpen(entryKey, fromB64(found), ENTRY_AAD) : null;
    const known = inner !== null;
    if (!known) {
      // Dummy entry: same PBKDF2 cost as a real one, bound to fail.
      inner = crypto.getRandomValues(new Uint8Array(20 + 12 + 2 + 32 * keyring.slots + 16));
      new DataView(inner.buffer).setUint32(16, keyring.iterations);
    }
    const iterations = new DataView(inner.buffer, inner.byteOffset + 16, 4).getUint32(0);
    const wrapKey = await pbkdf2AesKey(te(password), inner.slice(0, 16), iterations);
    const body = await aeadOpen(wrapKey, inner.subarray(20), WRAP_AAD);
    if (!known || body === null) return null;
    // The person's own home page (mixed zone): a path only their user name leads to.
    const home = "home/" + hex(await hmacBytes(t, te("home"))).slice(0, 20) + ".html";
    return { tag, entryKey, wrapKey, home, keys: await keysFromBody(body) };
  }

  /** Re-read the keyring with the stored wrapping key (keys rotated since login). */
  async function refresh(state) {
    const keyring = await fetchKeyring();
    const found = Object.prototype.hasOwnProperty.call(keyring.entries, state.tag) ? keyring.entries[state.tag] : null;
    const inner = found ? await aeadOpen(state.entryKey, fromB64(found), ENTRY_AAD) : null;
    const body = inner ? await aeadOpen(state.wrapKey, inner.subarray(20), WRAP_AAD) : null;
    if (!body) return null;
    state.keys = await keysFromBody(body);
    await saveState(state);
    return state;
  }

  // ---- session state (IndexedDB + a session cookie) ---------------------------
  function withStore(mode, action) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open("extranet", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("sessions");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction("sessions", mode);
        const request = action(tx.objectStore("sessions"));
        tx.oncomplete = () => { db.close(); resolve(request.result); };
        tx.onerror = tx.onabort = () => { db.close(); reject(tx.error); };
      };
    });
  }
  const saveState = (state) => withStore("readwrite", (s) => s.put(state, STATE_ID));
  const readState = () => withStore("readonly", (s) => s.get(STATE_ID));
  const deleteState = () => withStore("readwrite", (s) => s.delete(STATE_ID));

  function cookie(value, maxAge) {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    const age = maxAge === undefined ? "" : "; Max-Age=" + maxAge;
    document.cookie = COOKIE + "=" + value + "; Path=" + ROOT.pathname + "; SameSite=Strict" + age + secure;
  }
  const sessionMarker = () =>
    (document.cookie.split("; ").find((c) => c.startsWith(COOKIE + "=")) || "").slice(COOKIE.length + 1);

  /** The stored state if still valid: not expired, and if not remembered, same browser session. */
  async function currentState() {
    let state;
    try { state = await readState(); } catch (err) { return null; }
    if (!state) return null;
    if (Date.now() < state.expires && (state.remember || sessionMarker() === state.marker)) return state;
    await deleteState().catch(() => {});
    return null;
  }

  async function logout() {
    await deleteState().catch(() => {});
    cookie("", 0);
  }

  // ---- navigation helpers ----------------------------------------------------
  function relativeHere() {
    const path = location.pathname.startsWith(ROOT.pathname) ? location.pathname.slice(ROOT.pathname.length) : "";
    return path + location.search + location.hash;
  }

  function safeTarget(next) {
    try {
      const url = new URL(next || "index.html", ROOT);
      if (url.origin === location.origin && url.pathname.startsWith(ROOT.pathname) && url.href !== LOGIN_URL.href) {
        return url.href;
      }
    } catch (err) { /* fall through */ }
    return new URL("index.html", ROOT).href;
  }

  function toLogin(reason) {
    const params = new URLSearchParams({ next: relativeHere() });
    if (reason) params.set("why", reason);
    location.replace(LOGIN_URL.href + "#" + params.toString());
  }

  function showStatus(message, withLinks) {
    const box = document.getElementById("xn-status") || document.body.appendChild(document.createElement("p"));
    box.id = "xn-status";
    box.className = "xn-status xn-denied";
    box.textContent = message;
    if (withLinks) {
      const home = document.createElement("a");
      home.href = new URL("index.html", ROOT).href;
      home.textContent = T.home;
      const out = document.createElement("a");
      out.href = LOGIN_URL.href + "#logout";
      out.textContent = T.logout;
      out.dataset.xnLogout = "";
      box.append(" ", home, " · ", out);
    }
  }

  // ---- encrypted page ----------------------------------------------------------
  async function showPage() {
    performance.mark("xn-start");
    const blob = fromB64(document.getElementById("xn-data").textContent.trim());
    if (!subtle) return showStatus(T.unsupported, false);
    let state = await currentState();
    if (!state) return toLogin();
    let plain = await openBlob(state.keys, blob);
    if (plain === null) {
      state = await refresh(state).catch(() => null);
      if (!state) {
        await logout();
        return toLogin("expired");
      }
      plain = await openBlob(state.keys, blob);
    }
    if (plain === null) {
      enhance(state);
      return showStatus(T.denied, true);
    }
    const html = new TextDecoder().decode(plain);
    if (state.home && html.includes('<meta name="xn-home"')) return location.replace(new URL(state.home, ROOT).href);
    document.open();
    document.write(html);
    document.close();
    performance.mark("xn-shown");
    enhance(state);
  }

  /** After the page is shown: sign-out controls, attachment downloads, inline images. */
  function enhance(state) {
    if (state.home && ZONE === "mixed") {
      for (const a of document.querySelectorAll("a[data-xn-home]")) a.href = new URL(state.home, ROOT).href;
    }
    document.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const out = target && target.closest("[data-xn-logout]");
      if (out) {
        event.preventDefault();
        logout().then(() => location.replace(LOGIN_URL.href + "#logout"));
        return;
      }
      const link = target && target.closest("a[download][href]");
      if (link && isProtected(link.href)) {
        event.preventDefault();
        download(state, link).catch(() => showStatus(T.damaged, true));
      }
    });
    if (!document.querySelector("[data-xn-logout]") && document.body) {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = new URL(STATIC + "extranet.css", ROOT).href;
      document.head.appendChild(css);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "xn-logout-fab";
      button.dataset.xnLogout = "";
      button.textContent = T.logout;
      document.body.appendChild(button);
    }
    for (const img of document.querySelectorAll("img[src]")) {
      if (isProtected(img.src)) fetchOpen(state, img.src).then((bytes) => {
        if (bytes) img.src = URL.createObjectURL(new Blob([bytes]));
      }).catch(() => {});
    }
  }

  function isProtected(href) {
    const url = new URL(href, location.href);
    return url.origin === location.origin && url.pathname.startsWith(ROOT.pathname) &&
      !url.pathname.startsWith(new URL(STATIC, ROOT).pathname);
  }

  async function fetchOpen(state, href) {
    const response = await fetch(href, { credentials: "same-origin" });
    if (!response.ok) throw new Error("fetch " + response.status);
    const blob = new Uint8Array(await response.arrayBuffer());
    let plain = await openBlob(state.keys, blob);
    if (plain === null && (await refresh(state).catch(() => null))) plain = await openBlob(state.keys, blob);
    return plain;
  }

  async function download(state, link) {
    const plain = await fetchOpen(state, link.href);
    if (plain === null) return showStatus(T.denied, true);
    const name = link.getAttribute("download") || decodeURIComponent(new URL(link.href).pathname.split("/").pop());
    const url = URL.createObjectURL(new Blob([plain], { type: "application/octet-stream" }));
    const save = document.createElement("a");
    save.href = url;
    save.download = name;
    document.body.appendChild(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // ---- login page --------------------------------------------------------------
  async function loginPage() {
    const form = document.getElementById("xn-login");
    const fields = document.getElementById("xn-fields");
    const message = document.getElementById("xn-message");
    const params = new URLSearchParams(location.hash.slice(1));
    const say = (text, kind) => {
      message.textContent = text;
      message.className = "xn-message xn-" + kind;
      message.hidden = !text;
    };
    if (!subtle || !window.indexedDB || !window.DecompressionStream) return say(T.unsupported, "error");
    if (params.has("logout")) {
      await logout();
      history.replaceState(null, "", location.pathname + location.search);
      say(T.loggedOut, "info");
    } else if (params.get("why") !== "server" && await currentState()) {
      return location.replace(safeTarget(params.get("next")));
    } else if (params.get("why") === "expired" || params.get("why") === "server") {
      say(T.expired, "info");
    }
    fields.disabled = false;
    const user = document.getElementById("xn-username");
    const password = document.getElementById("xn-password");
    const remember = document.getElementById("xn-remember");
    (user.value ? password : user).focus();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      fields.disabled = true;
      say(T.checking, "info");
      try {
        const keyring = await fetchKeyringAs(user.value, password.value);
        const found = keyring && await unlock(keyring, user.value, password.value);
        if (!found) {
          say(T.refused, "error");
          fields.disabled = false;
          password.select();
          return;
        }
        const keep = !!(remember && remember.checked);
        const days = Number(rootEl.dataset.xnRememberDays || 0);
        const marker = toB64(crypto.getRandomValues(new Uint8Array(16)));
        await saveState({
          v: 1, ...found, remember: keep, marker,
          expires: Date.now() + (keep ? days * 86400000 : SESSION_MS),
        });
        cookie(marker);
        location.replace(safeTarget(new URLSearchParams(location.hash.slice(1)).get("next")));
      } catch (err) {
        say(T.network, "error");
        fields.disabled = false;
      }
    });
  }

  if (document.getElementById("xn-login")) loginPage();
  else if (document.getElementById("xn-data")) showPage().catch(() => showStatus(T.damaged, true));
})();
