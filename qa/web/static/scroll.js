// Scroll `target` to `where` (0 top, 0.5 centre) inside the nearest scrolling box around `element`,
// moving the window only when that box is out of sight. Shared by the chat and the source viewer.
const scrollInBox = (target, where) => {
  let box = element;
  while (box && box !== document.body && !/(auto|scroll)/.test(getComputedStyle(box).overflowY)) box = box.parentElement;
  if (box && box !== document.body) {
    const offset = target.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += offset - where * (box.clientHeight - Math.min(target.offsetHeight, box.clientHeight)) - 8;
    const r = box.getBoundingClientRect();
    if (r.top < 0 || r.top > window.innerHeight - 80) box.scrollIntoView({block: 'start'});
  } else {
    target.scrollIntoView({block: where ? 'center' : 'start'});
  }
};
