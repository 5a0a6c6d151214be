//! One module per subcommand: its clap arguments and a `run` that calls the library crates.

pub(crate) mod codecs;
#[cfg(feature = "js")]
pub(crate) mod compare;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod forward;
pub(crate) mod gen_shares;
pub(crate) mod ingest_mqtt;
pub(crate) mod microshare_sim;
pub(crate) mod outbox;
pub(crate) mod redecode;
pub(crate) mod serve;
pub(crate) mod vectors;

/// `1 record`, `0 records`, `3 records`: a count and its noun, plural unless one.
pub(crate) fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::Cli;

    /// Every subcommand's long help at `width` columns.
    fn helps(width: usize) -> Vec<(String, String)> {
        let mut app = Cli::command().term_width(width);
        app.build();
        app.get_subcommands()
            .map(|s| {
                let mut s = s.clone().term_width(width);
                (s.get_name().to_string(), s.render_long_help().to_string())
            })
            .collect()
    }

    #[test]
    fn env_backed_flags_show_the_variable_and_never_a_value() {
        let helps = helps(100);
        assert!(helps.len() >= 8);
        let mut seen = 0;
        for (name, help) in &helps {
            assert!(!help.contains("=]"), "{name}: an empty env value shown");
            seen += help.matches("[env: ").count();
        }
        let serve = &helps.iter().find(|(n, _)| n == "serve").unwrap().1;
        for var in [
            "LORAFIELD_WEBHOOK_SECRET",
            "LORAFIELD_PIPE_TOKEN",
            "MICROSHARE_USERNAME",
            "MICROSHARE_PASSWORD",
            "MICROSHARE_API_KEY",
        ] {
            assert!(serve.contains(&format!("[env: {var}]")), "{var}");
        }
        assert!(seen > 5, "{seen}: redecode reads them too");
        // The log variable is named in the help of the commands that log.
        for name in ["serve", "microshare-sim"] {
            let help = &helps.iter().find(|(n, _)| n == name).unwrap().1;
            assert!(help.contains("LORAFIELD_LOG"), "{name}");
        }
    }

    #[test]
    fn examples_are_shown_as_written_on_an_80_column_terminal() {
        for (name, help) in helps(80) {
            let Some((_, examples)) = help.split_once("\nExample") else {
                continue;
            };
            for line in examples.lines() {
                assert!(line.chars().count() <= 80, "{name}: {line}");
            }
        }
        let sim = helps(80)
            .into_iter()
            .find(|(n, _)| n == "microshare-sim")
            .unwrap()
            .1;
        assert!(sim.contains(super::microshare_sim::SIM_EXAMPLE), "{sim}");
        let serve = helps(80).into_iter().find(|(n, _)| n == "serve").unwrap().1;
        assert!(serve.contains(super::serve::SERVE_EXAMPLES), "{serve}");
    }

    #[test]
    fn counts_read_as_words() {
        assert_eq!(super::counted(1, "record"), "1 record");
        assert_eq!(super::counted(0, "record"), "0 records");
        assert_eq!(super::counted(2, "dead letter"), "2 dead letters");
    }

    /// The example lines of a help text: the lines under its `Example`/`Examples` heading,
    /// continued lines joined, comments and `export` lines left out.
    pub(crate) fn example_lines(help: &str) -> Vec<String> {
        let Some((_, examples)) = help.split_once("\nExample") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut current = String::new();
        for line in examples.lines().skip(1) {
            let line = line.trim();
            if line.is_empty() && current.is_empty() {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(start) => current.push_str(start),
                None => {
                    current.push_str(line);
                    let full = std::mem::take(&mut current);
                    if !full.starts_with('#') && !full.starts_with("export ") && !full.is_empty() {
                        out.push(full);
                    }
                }
            }
        }
        out
    }

    /// The `lorafield` invocations of a shell line, as argument lists: the line split at `|`
    /// and `&&`, words split at spaces outside quotes (single and double, removed), a trailing
    /// `&`, `NAME=value` prefixes and redirections (`< file`, `> file`) left out.
    pub(crate) fn invocations(line: &str) -> Vec<Vec<String>> {
        let mut words: Vec<String> = Vec::new();
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut started = false;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    started = true;
                }
                (None, ' ') => {
                    if started || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    started = false;
                }
                (None, c) => word.push(c),
            }
        }
        if started || !word.is_empty() {
            words.push(word);
        }
        let mut out = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut skip_next = false;
        for w in words {
            if skip_next {
                skip_next = false;
                continue;
            }
            match w.as_str() {
                "|" | "&&" | "&" => {
                    if current.first().is_some_and(|f| f == "lorafield") {
                        out.push(std::mem::take(&mut current));
                    }
                    current.clear();
                }
                "<" | ">" | "2>" => skip_next = true,
                _ if current.is_empty() && w.contains('=') && !w.starts_with('-') => {}
                _ => current.push(w),
            }
        }
        if current.first().is_some_and(|f| f == "lorafield") {
            out.push(current);
        }
        out
    }

    #[test]
    fn every_help_example_parses() {
        use clap::Parser;
        let mut parsed = 0;
        for (name, help) in helps(100) {
            for line in example_lines(&help) {
                for words in invocations(&line) {
                    if let Err(e) = Cli::try_parse_from(&words) {
                        panic!("{name}: {line}\n{e}");
                    }
                    parsed += 1;
                }
            }
        }
        // decode, encode, codecs, vectors, redecode, gen-shares, serve, microshare-sim...
        assert!(parsed >= 25, "{parsed}");
    }

    #[test]
    fn example_lines_are_split_as_a_shell_splits_them() {
        assert_eq!(
            invocations("printf '0367\\n' | lorafield decode --profile tts -"),
            [["lorafield", "decode", "--profile", "tts", "-"]]
        );
        assert_eq!(
            invocations("lorafield gen-shares --count 10 | lorafield redecode -q > /dev/null"),
            [
                vec!["lorafield", "gen-shares", "--count", "10"],
                vec!["lorafield", "redecode", "-q"]
            ]
        );
        assert_eq!(
            invocations("X=1 lorafield encode '{\"a_1\": 1}' < in.txt &"),
            [["lorafield", "encode", "{\"a_1\": 1}"]]
        );
        assert_eq!(
            example_lines(
                "Usage: x\nExamples:\n  # a comment\n  export A=1\n  lorafield a \\\n      --b\n"
            ),
            ["lorafield a --b"]
        );
    }
}
