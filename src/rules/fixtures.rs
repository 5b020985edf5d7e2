//! Rule test fixtures (the `rules test` runner).
