// Clicking a citation sends its data attributes to the server as the `cite` event's data;
// a new reply scrolls into view.
element.addEventListener('click', (e) => {
  const b = e.target.closest('[data-source]');
  if (b && element.contains(b)) trigger('cite', Object.assign({}, b.dataset));
});
watch('value', () => {
  const turns = element.querySelectorAll('.qa-turn');
  if (turns.length) scrollInBox(turns[turns.length - 1], 0);
});
