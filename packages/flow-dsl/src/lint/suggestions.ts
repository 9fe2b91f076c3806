/**
 * "did you mean" suggestions, remembered: a rule that reports the same misspelt name at many
 * states computes its suggestion once, so a flow full of one mistake stays linear.
 */
import { didYouMean } from '../load/did-you-mean.js';

/** A `didYouMean` that remembers its answers by `scope` (what the candidates are) and word. */
export function rememberedSuggestions(): (scope: string, word: string, candidates: () => Iterable<string>) => string {
  const answers = new Map<string, string>();
  return (scope, word, candidates) => {
    const key = `${scope}\u0000${word}`;
    let answer = answers.get(key);
    if (answer === undefined) answers.set(key, (answer = didYouMean(word, candidates())));
    return answer;
  };
}
