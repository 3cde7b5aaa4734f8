// The opened source scrolls to its highlighted sentence (or passage).
watch('value', () => {
  const m = element.querySelector('#qa-doc-answer') || element.querySelector('.qa-doc-passage');
  if (m) scrollInBox(m, 0.5);
});
