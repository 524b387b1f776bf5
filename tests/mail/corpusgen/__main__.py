"""Rewrite tests/mail/corpus/ from the builders."""

from tests.mail.corpusgen import write_corpus

if __name__ == "__main__":
    for path in write_corpus():
        print(path.name, path.stat().st_size)
