// Random container names in Docker's adjective_noun style (our own word lists).
import { randomBytes, randomInt } from 'node:crypto';

const ADJECTIVES = ['agile', 'amber', 'brave', 'bright', 'calm', 'clever', 'cosmic', 'crisp', 'daring', 'eager', 'fancy',
  'gentle', 'glad', 'golden', 'happy', 'hardy', 'humble', 'jolly', 'keen', 'kind', 'lively', 'lucid', 'lucky', 'merry',
  'mighty', 'modest', 'nimble', 'noble', 'patient', 'plucky', 'proud', 'quick', 'quiet', 'rapid', 'rustic', 'serene',
  'sharp', 'shiny', 'silent', 'sleek', 'smart', 'snowy', 'solid', 'spry', 'stoic', 'sunny', 'swift', 'tidy', 'upbeat',
  'vivid', 'warm', 'wise', 'witty', 'zesty'];
const NOUNS = ['anchor', 'barge', 'beacon', 'buoy', 'cabin', 'canoe', 'cargo', 'compass', 'coral', 'cove', 'crane', 'delta',
  'dinghy', 'dock', 'ferry', 'fjord', 'galley', 'harbor', 'helm', 'island', 'jetty', 'keel', 'kelp', 'lagoon', 'lantern',
  'mast', 'mooring', 'oar', 'otter', 'pelican', 'pier', 'pilot', 'quay', 'reef', 'rudder', 'sail', 'schooner', 'shoal',
  'skiff', 'sloop', 'sonar', 'tanker', 'tide', 'tugboat', 'vessel', 'wharf', 'yacht'];

export function randomName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
}

export function newId(): string {
  return randomBytes(32).toString('hex');
}

export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
