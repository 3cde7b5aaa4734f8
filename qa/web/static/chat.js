// 👍/👎 under an answer send the answer's data (data-feedback), the vote and the comment typed so
// far as the `vote` event; voting again or sending a comment replaces that vote (same key). Votes
// given are kept here by key, so they stay shown when the conversation is drawn again.
const votes = {};
const showVote = (bar) => {
  const given = votes[bar.dataset.key];
  bar.classList.toggle('qa-voted', !!given);
  bar.querySelectorAll('.qa-vote').forEach((b) => b.classList.toggle('qa-chosen', !!given && b.dataset.vote === given.vote));
  const comment = bar.querySelector('.qa-vote-comment');
  if (given && comment && !comment.value) comment.value = given.comment;
  bar.querySelector('.qa-vote-status').textContent = !given ? '' : given.comment ? 'Thanks: vote and comment saved.' : 'Thanks: vote saved.';
};
const sendVote = (bar, vote) => {
  const comment = bar.querySelector('.qa-vote-comment').value.trim();
  votes[bar.dataset.key] = {vote, comment};
  trigger('vote', Object.assign(JSON.parse(bar.dataset.feedback), {vote, comment}));
  showVote(bar);
};
// Clicking a citation sends its data attributes to the server as the `cite` event's data;
// a new reply scrolls into view.
element.addEventListener('click', (e) => {
  const vote = e.target.closest('.qa-vote, .qa-vote-send');
  if (vote && element.contains(vote)) {
    const bar = vote.closest('.qa-feedback');
    const chosen = vote.dataset.vote || (votes[bar.dataset.key] || {}).vote;
    if (chosen) sendVote(bar, chosen);
    return;
  }
  const b = e.target.closest('[data-source]');
  if (b && element.contains(b)) trigger('cite', Object.assign({}, b.dataset));
});
element.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || !e.target.matches('.qa-vote-comment')) return;
  e.preventDefault();
  const bar = e.target.closest('.qa-feedback');
  if (votes[bar.dataset.key]) sendVote(bar, votes[bar.dataset.key].vote);
});
watch('value', () => {
  element.querySelectorAll('.qa-feedback').forEach(showVote);
  const turns = element.querySelectorAll('.qa-turn');
  if (turns.length) scrollInBox(turns[turns.length - 1], 0);
});
