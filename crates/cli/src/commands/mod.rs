//! One module per subcommand: its clap arguments and a `run` that calls the library crates.

pub(crate) mod codecs;
#[cfg(feature = "js")]
pub(crate) mod compare;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod gen_shares;
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
}
