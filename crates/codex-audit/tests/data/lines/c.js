// A script.
/**
 * JSDoc block.
 */
function add(a, b) {
  // sum
  return a + b; // trailing
}

const s = "// not a comment";
/* one-line block */
module.exports = { add, s };
