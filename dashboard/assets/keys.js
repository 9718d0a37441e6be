// "/" focuses the symbol search from anywhere (as on most trading and code sites), unless the user is typing.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
  const target = event.target;
  if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) { return; }
  const picker = document.getElementById("symbol-picker");
  if (!picker) { return; }
  event.preventDefault();
  const trigger = picker.matches("button") ? picker : picker.querySelector("button, [role=combobox], input");
  if (trigger) { trigger.click(); }
  setTimeout(function () {
    const search = document.querySelector(".dash-dropdown-search, .dash-dropdown-content input, #symbol-picker input");
    if (search) { search.focus(); }
  }, 50);
});
