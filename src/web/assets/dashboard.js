// The pgjobs dashboard's only script: refreshes the page's content part in
// place every data-refresh seconds, and sends the action buttons as POSTs
// with the CSRF token after a confirmation. No framework, no build step.
'use strict';

(function () {
  const content = document.getElementById('content');
  const status = document.getElementById('status');
  const message = document.getElementById('message');
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const every = Number(document.body.dataset.refresh || 0);
  let busy = false;

  function partialUrl() {
    const url = new URL(window.location.href);
    url.searchParams.set('partial', '1');
    return url.toString();
  }

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const res = await fetch(partialUrl(), { credentials: 'same-origin', cache: 'no-store' });
      if (res.ok) {
        content.innerHTML = await res.text();
        status.textContent = 'updated ' + new Date().toLocaleTimeString();
        document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      } else {
        status.textContent = 'refresh failed: HTTP ' + res.status;
      }
    } catch (e) {
      status.textContent = 'refresh failed: ' + e.message;
    } finally {
      busy = false;
    }
  }

  function show(text, isError) {
    message.textContent = text;
    message.className = isError ? 'message error' : 'message';
    message.hidden = false;
  }

  async function act(button) {
    if (!window.confirm(button.dataset.confirm)) return;
    busy = true;
    try {
      const res = await fetch(button.dataset.action, {
        method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf },
      });
      const body = await res.json().catch(() => ({}));
      if (res.ok) {
        show(button.textContent + ': done ' + JSON.stringify(body), false);
      } else {
        show(button.textContent + ' failed: ' + (body.error || 'HTTP ' + res.status), true);
      }
    } catch (e) {
      show(button.textContent + ' failed: ' + e.message, true);
    } finally {
      busy = false;
    }
    refresh();
  }

  document.addEventListener('click', function (event) {
    const button = event.target.closest('button[data-action]');
    if (button) {
      event.preventDefault();
      act(button);
    }
  });

  if (every > 0) window.setInterval(refresh, every * 1000);
})();
