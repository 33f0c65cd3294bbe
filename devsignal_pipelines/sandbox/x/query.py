"""The subset of the X API v2 search query language the sandbox understands.

Supported: keywords (case-insensitive, whole token), ``"quoted phrases"`` (consecutive tokens),
implicit AND by whitespace, ``OR`` (upper case), parentheses, negation with a leading ``-`` on
any term or group, and the operators ``is:retweet``, ``is:reply``, ``is:quote``, ``lang:xx`` and
``from:username``. As on X, AND binds tighter than OR (``a b OR c`` is ``(a b) OR c``) and a
query needs at least one positive keyword, phrase or ``from:``. Anything else is an error, so a
connector using syntax the sandbox does not model fails loudly instead of matching silently.

Text is tokenized roughly as X documents it (split on punctuation and symbols), so
``@AcmeDB``, ``#acmedb`` and ``AcmeDB:`` all contain the token ``acmedb``; ``acmedbx`` does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

_TOKEN = re.compile(r"\w+")
_OPERATOR = re.compile(r"^([a-z_]+):(.*)$", re.IGNORECASE)
_IS_VALUES = ("retweet", "reply", "quote")


class TweetFeatures(NamedTuple):
    """What a query can test about one tweet, computed once per tweet (a tuple: cheap to build)."""

    padded_text: str  # " tok1 tok2 ... ": keywords and phrases are substring tests
    is_retweet: bool
    is_reply: bool
    is_quote: bool
    lang: str
    author_id: str
    author_username: str  # lowercased


def padded_tokens(text: str) -> str:
    """``"Loving @AcmeDB!"`` -> ``" loving acmedb "``: lowercased tokens, space-delimited."""
    return f" {' '.join(_TOKEN.findall(text.lower()))} "


def tweet_features(tweet: dict, padded_text: str, author_username: str) -> TweetFeatures:
    """``padded_text`` is ``padded_tokens(tweet["text"])``, passed in so callers can cache it."""
    references = tweet.get("referenced_tweets")
    kinds = {ref["type"] for ref in references} if references else ()
    return TweetFeatures(
        padded_text,
        "retweeted" in kinds,
        "replied_to" in kinds,
        "quoted" in kinds,
        tweet.get("lang", ""),
        tweet["author_id"],
        author_username.lower(),
    )


Predicate = Callable[[TweetFeatures], bool]


class QueryError(ValueError):
    """An unparsable query; ``position`` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position + 1})")
        self.position = position


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "(", ")", "OR", "-", "phrase", "word"
    text: str
    position: int


def compile_query(query: str) -> Predicate:
    """Parse ``query`` into a predicate over ``TweetFeatures``; raise ``QueryError`` if invalid."""
    parser = _Parser(_lex(query), len(query))
    predicate, standalone = parser.parse()
    if not standalone:
        raise QueryError("query needs at least one positive keyword, phrase or from:", 0)
    return predicate


def _lex(query: str) -> list[_Lexeme]:
    lexemes: list[_Lexeme] = []
    position = 0
    while position < len(query):
        char = query[position]
        if char.isspace():
            position += 1
        elif char in "()":
            lexemes.append(_Lexeme(char, char, position))
            position += 1
        elif char == "-":
            following = query[position + 1 : position + 2]
            if not following or following.isspace() or following == ")":
                raise QueryError("'-' must be followed by a term", position)
            lexemes.append(_Lexeme("-", char, position))
            position += 1
        elif char == '"':
            end = query.find('"', position + 1)
            if end < 0:
                raise QueryError("unterminated quoted phrase", position)
            lexemes.append(_Lexeme("phrase", query[position + 1 : end], position))
            position = end + 1
        else:
            end = position
            while end < len(query) and not query[end].isspace() and query[end] not in '()"':
                end += 1
            word = query[position:end]
            lexemes.append(_Lexeme("OR" if word == "OR" else "word", word, position))
            position = end
    return lexemes


class _Parser:
    """Recursive descent: or := and ("OR" and)* ; and := unary+ ; unary := "-"? atom.

    Each rule returns (predicate, standalone) where standalone says the clause contains a
    positive keyword, phrase or from: (X refuses queries made only of negations and is:/lang:).
    """

    def __init__(self, lexemes: list[_Lexeme], length: int) -> None:
        self.lexemes = lexemes
        self.index = 0
        self.length = length

    def parse(self) -> tuple[Predicate, bool]:
        if not self.lexemes:
            raise QueryError("empty query", 0)
        result = self._or()
        if self.index < len(self.lexemes):
            lexeme = self.lexemes[self.index]
            raise QueryError(f"unexpected {lexeme.text!r}", lexeme.position)
        return result

    def _peek(self) -> _Lexeme | None:
        return self.lexemes[self.index] if self.index < len(self.lexemes) else None

    def _or(self) -> tuple[Predicate, bool]:
        clauses = [self._and()]
        while (lexeme := self._peek()) is not None and lexeme.kind == "OR":
            self.index += 1
            clauses.append(self._and())
        if len(clauses) == 1:
            return clauses[0]
        predicates = tuple(predicate for predicate, _ in clauses)
        return (lambda f: any(p(f) for p in predicates)), any(s for _, s in clauses)

    def _and(self) -> tuple[Predicate, bool]:
        clauses = []
        while (lexeme := self._peek()) is not None and lexeme.kind not in ("OR", ")"):
            clauses.append(self._unary())
        if not clauses:
            position = lexeme.position if lexeme is not None else self.length
            raise QueryError("expected a term", position)
        if len(clauses) == 1:
            return clauses[0]
        predicates = tuple(predicate for predicate, _ in clauses)
        return (lambda f: all(p(f) for p in predicates)), any(s for _, s in clauses)

    def _unary(self) -> tuple[Predicate, bool]:
        lexeme = self.lexemes[self.index]
        if lexeme.kind != "-":
            return self._atom()
        self.index += 1
        predicate, _ = self._atom()
        return (lambda f: not predicate(f)), False

    def _atom(self) -> tuple[Predicate, bool]:
        lexeme = self.lexemes[self.index]
        self.index += 1
        if lexeme.kind == "(":
            result = self._or()
            closing = self._peek()
            if closing is None or closing.kind != ")":
                raise QueryError("missing ')'", lexeme.position)
            self.index += 1
            return result
        if lexeme.kind == "phrase":
            return _text_match(lexeme), True
        if lexeme.kind == "word":
            operator = _OPERATOR.match(lexeme.text)
            return _operator(lexeme, operator) if operator else (_text_match(lexeme), True)
        raise QueryError(f"unexpected {lexeme.text!r}", lexeme.position)


def _text_match(lexeme: _Lexeme) -> Predicate:
    """A keyword is one whole token; a phrase (or "acme-db") is consecutive whole tokens."""
    needle = padded_tokens(lexeme.text)
    if not needle.strip():
        raise QueryError(f"{lexeme.text!r} has no searchable characters", lexeme.position)
    return lambda f: needle in f.padded_text


def _operator(lexeme: _Lexeme, match: re.Match[str]) -> tuple[Predicate, bool]:
    name, value = match.group(1).lower(), match.group(2)
    if not value:
        raise QueryError(f"operator {name}: needs a value", lexeme.position)
    if name == "is" and value.lower() in _IS_VALUES:
        return attrgetter(f"is_{value.lower()}"), False
    if name == "lang":
        lang = value.lower()
        return (lambda f: f.lang == lang), False
    if name == "from":
        who = value.lower().removeprefix("@")
        return (lambda f: f.author_username == who or f.author_id == who), True
    raise QueryError(f"unsupported operator {lexeme.text!r}", lexeme.position)
