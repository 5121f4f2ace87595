'use strict';
// syncstorm's data on a Y.Doc, shared by the two Yjs adapters (this folder's relay and
// ../y-websocket/): how a user operation edits the document and what state it shows.
//
// A list is a Y.Map from item id to the id of the operation that wrote the item's value, so an
// item id is never duplicated; a text is a Y.Array of the ids of the operations that inserted its
// characters. This file does not load Yjs itself: each adapter has its own copy of the package,
// and two copies of Yjs in one process do not recognise each other's types.

/** `variant` is 'list' or 'text'. */
function documentOf(variant) {
  /** The canonical state of a document. */
  function canonical(doc) {
    if (variant === 'text') return { type: 'text', text: doc.getArray('text').toArray() };
    const items = [];
    doc.getMap('items').forEach((value, key) => items.push([Number(key), value]));
    items.sort((x, y) => x[0] - y[0]);
    return { type: 'list', items };
  }

  /** Applies a user operation in one transaction with `origin`; returns the target (the element a
   *  text delete removed, the value a list remove took away) or 0, or null when impossible. */
  function apply(doc, op, origin) {
    let target = 0;
    let possible = true;
    doc.transact(() => {
      if (variant === 'text') {
        const text = doc.getArray('text');
        const position = Math.floor(op.position_ppm * text.length / 1000000);
        if (op.kind === 'text_insert') {
          text.insert(Math.min(position, text.length), [op.id]);
        } else if (text.length === 0) {
          possible = false;
        } else {
          const at = Math.min(position, text.length - 1);
          target = text.get(at);
          text.delete(at, 1);
        }
        return;
      }
      const items = doc.getMap('items');
      const key = String(op.key);
      if (op.kind === 'list_add') items.set(key, op.id);
      else if (op.kind === 'list_update' && items.has(key)) items.set(key, op.id);
      else if (op.kind === 'list_remove') {
        target = items.get(key) || 0;  // what its user saw removed: the checkers' resurrection needs it
        items.delete(key);
      }
      else possible = false;  // an update of an item this user does not see
    }, origin);
    return possible ? target : null;
  }

  return { canonical, apply };
}

module.exports = { documentOf };
