// The login page: exchanges the password for a session cookie (HttpOnly, set by the broker) and
// forgets the password at once; nothing but the readable CSRF cookie stays in the browser.
import { ApiError, post } from "./api.js";

const form = document.getElementById("login");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = form.username.value;
  const password = form.password.value;
  form.password.value = "";
  error.textContent = "";
  try {
    await post("/auth/login", { username, password });
    const next = new URLSearchParams(location.search).get("next") || "#/";
    location.assign(`/${next.startsWith("#") ? next : "#/"}`);
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
  }
});
