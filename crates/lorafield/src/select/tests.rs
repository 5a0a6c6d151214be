use super::pattern::{Pattern, PortSet};
use super::*;

fn registry() -> Registry {
    Registry::builtin()
}

#[test]
fn globs() {
    let cases = [
        ("hackiot-*", "hackiot-1", true),
        ("hackiot-*", "hackiot-", true),
        ("hackiot-*", "hackiot", false),
        ("hackiot-*", "x-hackiot-1", false),
        ("*-th", "em300-th", true),
        ("*-th", "em300-thx", false),
        ("em*th", "em300-th", true),
        ("em*th", "emth", true),
        ("em*th", "eth", false),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("a*a", "aa", true),
        ("*b*b*", "abab", true),
        ("*b*b*", "ab", false),
        ("a**b", "ab", true),
        ("*", "", true),
        ("*", "anything", true),
        ("exact", "exact", true),
        ("exact", "exactly", false),
        ("", "", true),
        ("", "x", false),
    ];
    for (pattern, text, want) in cases {
        assert_eq!(
            Pattern::new(pattern).matches(text, false),
            want,
            "{pattern} {text}"
        );
    }
    assert!(Pattern::new("70B3D5*").matches("70b3d57ed0000001", true));
    assert!(!Pattern::new("70B3D5*").matches("70b3d57ed0000001", false));
}

#[test]
fn port_set() {
    let mut s = PortSet::default();
    for p in [1, 63, 64, 200, 255] {
        s.insert(p);
    }
    for p in 0..=255 {
        assert_eq!(s.contains(p), [1, 63, 64, 200, 255].contains(&p), "{p}");
    }
}

#[test]
fn single_and_builtin_default() {
    let r = registry();
    let choice = Choice::build(&r, "elsys", &Options::default()).unwrap();
    let s = Selection::single(choice);
    assert_eq!(s.rules(), 0);
    assert_eq!(s.select(&Meta::default()).id(), "elsys");
    let s = Selection::builtin_default(&r);
    let c = s.select(&Meta::default());
    assert_eq!((c.id(), c.rule()), ("cayenne-lpp", None));
    assert_eq!(c.options(), &Options::default());
    assert!(c.codec().keeps_partial());
    let s = Selection::builtin_default(&Registry::empty());
    assert_eq!(s.select(&Meta::default()).id(), "cayenne-lpp");
}

#[test]
fn effective_options_fill_in_defaults() {
    let r = registry();
    let c = Choice::build(&r, "cayenne-lpp", &Options::default()).unwrap();
    assert_eq!(c.options().given().count(), 0);
    assert_eq!(
        c.effective_options().collect::<Vec<_>>(),
        [("profile", "extended")]
    );
    let c = Choice::build(&r, "cayenne-lpp", &Options::default().profile("tts")).unwrap();
    assert_eq!(
        c.effective_options().collect::<Vec<_>>(),
        [("profile", "tts")]
    );
    let c = Choice::build(&r, "sodaq-tracker", &Options::default()).unwrap();
    assert_eq!(
        c.effective_options().collect::<Vec<_>>(),
        [("model", "universal-tracker")]
    );
    let c = Choice::build(&r, "elsys", &Options::default()).unwrap();
    assert_eq!(c.effective_options().count(), 0);
    assert_eq!(
        format!("{c:?}"),
        format!(
            r#"Choice {{ id: "elsys", version: "{}", options: Options {{ profile: None, model: None, settings: {{}} }}, rule: None, .. }}"#,
            c.version()
        )
    );
}

#[test]
fn overriding_the_codec_drops_the_rules() {
    let r = registry();
    let mut s = Selection::builtin_default(&r);
    s.rules.push(Rule {
        tests: Box::new([]),
        action: Action::Choice(Choice::build(&r, "elsys", &Options::default()).unwrap()),
    });
    let s = s
        .with_overrides(
            &r,
            Some("sodaq-tracker"),
            &Options::default().model("legacy"),
        )
        .unwrap();
    assert_eq!(s.rules(), 0);
    let c = s.select(&Meta::default());
    assert_eq!(
        (c.id(), c.options().get("model")),
        ("sodaq-tracker", Some("legacy"))
    );
    let e = Selection::builtin_default(&r)
        .with_overrides(&r, Some("lpp"), &Options::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(r#"unknown codec "lpp" (known: cayenne-lpp"#),
        "{e}"
    );
    let e = Selection::builtin_default(&r)
        .with_overrides(&r, Some("elsys"), &Options::default().profile("tts"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"codec elsys takes no option "profile" (it takes none)"#
    );
}

#[cfg(feature = "config")]
mod toml_files {
    use super::*;

    fn select(toml: &str, meta: Meta<'_>) -> (&'static str, Option<usize>) {
        let s = Selection::from_toml(toml, &registry()).unwrap();
        let c = s.select(&meta);
        (c.id(), c.rule())
    }

    fn error(toml: &str) -> String {
        Selection::from_toml(toml, &registry())
            .unwrap_err()
            .to_string()
    }

    const TWO_RULES: &str = r#"
        [[rule]]
        f_port = 5
        codec = "elsys"

        [[rule]]
        f_port = [5, 6]
        codec = "sodaq-tracker"
    "#;

    #[test]
    fn the_first_match_wins() {
        let port = |p| Meta {
            f_port: Some(p),
            ..Meta::default()
        };
        assert_eq!(select(TWO_RULES, port(5)), ("elsys", Some(1)));
        assert_eq!(select(TWO_RULES, port(6)), ("sodaq-tracker", Some(2)));
        assert_eq!(select(TWO_RULES, port(7)), ("cayenne-lpp", None));
        assert_eq!(select(TWO_RULES, Meta::default()), ("cayenne-lpp", None));
    }

    #[test]
    fn the_default_table() {
        let toml = "[default]\ncodec = \"elsys\"\n";
        assert_eq!(select(toml, Meta::default()), ("elsys", None));
        let s = Selection::from_toml("[default]\nprofile = \"tts\"", &registry()).unwrap();
        let c = s.select(&Meta::default());
        assert_eq!(
            (c.id(), c.options().get("profile")),
            ("cayenne-lpp", Some("tts"))
        );
        let s = Selection::from_toml("", &registry()).unwrap();
        assert_eq!(s.rules(), 0);
        let c = s.select(&Meta::default());
        assert_eq!((c.id(), c.options()), ("cayenne-lpp", &Options::default()));
    }

    #[test]
    fn each_key_matches_its_field() {
        type Set = fn(&mut Meta<'static>, &'static str);
        let keys: [(&str, Set); 6] = [
            ("application_id", |m, v| m.application_id = Some(v)),
            ("device_id", |m, v| m.device_id = Some(v)),
            ("dev_eui", |m, v| m.dev_eui = Some(v)),
            ("brand_id", |m, v| m.brand_id = Some(v)),
            ("model_id", |m, v| m.model_id = Some(v)),
            ("rec_type", |m, v| m.rec_type = Some(v)),
        ];
        for (key, set) in keys {
            let toml = format!("[[rule]]\n{key} = [\"a\", \"b-*\"]\ncodec = \"elsys\"\n");
            let s = Selection::from_toml(&toml, &registry()).unwrap();
            for (value, want) in [("a", "elsys"), ("b-1", "elsys"), ("c", "cayenne-lpp")] {
                let mut meta = Meta::default();
                set(&mut meta, value);
                assert_eq!(s.select(&meta).id(), want, "{key} = {value}");
            }
            // The other fields holding the value do not count.
            let mut others = Meta::default();
            for (other, set_other) in keys {
                if other != key {
                    set_other(&mut others, "a");
                }
            }
            assert_eq!(s.select(&others).id(), "cayenne-lpp", "{key}");
        }
    }

    #[test]
    fn a_record_without_the_key_does_not_match() {
        let toml = "[[rule]]\napplication_id = \"*\"\ncodec = \"elsys\"\n";
        assert_eq!(select(toml, Meta::default()), ("cayenne-lpp", None));
        let app = Meta {
            application_id: Some(""),
            ..Meta::default()
        };
        assert_eq!(select(toml, app), ("elsys", Some(1)));
    }

    #[test]
    fn every_key_of_a_rule_must_match() {
        let toml = r#"
            [[rule]]
            brand_id = "milesight-iot"
            model_id = ["em300-th", "em300-mcs"]
            f_port = 85
            codec = "milesight"
            model = "em300-th"
        "#;
        let mut meta = Meta {
            brand_id: Some("milesight-iot"),
            model_id: Some("em300-mcs"),
            f_port: Some(85),
            ..Meta::default()
        };
        assert_eq!(select(toml, meta), ("milesight", Some(1)));
        meta.f_port = Some(86);
        assert_eq!(select(toml, meta), ("cayenne-lpp", None));
        meta.f_port = Some(85);
        meta.model_id = Some("em300-di");
        assert_eq!(select(toml, meta), ("cayenne-lpp", None));
    }

    #[test]
    fn a_rule_without_keys_matches_everything() {
        let toml = "[[rule]]\ncodec = \"elsys\"\n[[rule]]\ncodec = \"sodaq-tracker\"\n";
        assert_eq!(select(toml, Meta::default()), ("elsys", Some(1)));
    }

    #[test]
    fn dev_eui_ignores_case() {
        let toml = "[[rule]]\ndev_eui = [\"70B3D57ED0000001\", \"a84041*\"]\ncodec = \"elsys\"\n";
        for (eui, want) in [
            ("70b3d57ed0000001", "elsys"),
            ("70B3D57ED0000001", "elsys"),
            ("A840410000000001", "elsys"),
            ("70b3d57ed0000002", "cayenne-lpp"),
        ] {
            let meta = Meta {
                dev_eui: Some(eui),
                ..Meta::default()
            };
            assert_eq!(select(toml, meta).0, want, "{eui}");
        }
        // Other keys keep case.
        let toml = "[[rule]]\ndevice_id = \"Node-1\"\ncodec = \"elsys\"\n";
        let meta = Meta {
            device_id: Some("node-1"),
            ..Meta::default()
        };
        assert_eq!(select(toml, meta).0, "cayenne-lpp");
    }

    #[test]
    fn an_unknown_key_is_named_with_the_valid_ones() {
        let e = error("[[rule]]\ncodec = \"elsys\"\n\n[[rule]]\nfport = 3\ncodec = \"elsys\"\n");
        assert!(
            e.starts_with("rule 2: TOML parse error at line 5, column 1"),
            "{e}"
        );
        assert!(
            e.ends_with(
                "unknown field `fport`, expected one of `application_id`, `device_id`, \
                 `dev_eui`, `f_port`, `brand_id`, `model_id`, `rec_type`, `codec`, \
                 `profile`, `model`, `js`, `device`, `variables`, `prefer`, `forward_to`"
            ),
            "{e}"
        );
        let e = error("[default]\ncodec = \"elsys\"\nf_port = 3\n");
        assert!(
            e.starts_with("[default]: TOML parse error at line 3"),
            "{e}"
        );
        let e = error("[[rule]]\ncodec = \"elsys\"\n[defaults]\ncodec = \"elsys\"\n");
        assert!(e.starts_with("TOML parse error at line 3"), "{e}");
        assert!(
            e.contains(
                "unknown field `defaults`, expected one of `device_repo`, `js`, `default`, `rule`"
            ),
            "{e}"
        );
        let e = error("[[rule]\n");
        assert!(e.starts_with("TOML parse error at line 1"), "{e}");
    }

    #[test]
    fn an_unknown_codec_names_the_rule_and_its_line() {
        let e = Selection::from_toml(
            "[[rule]]\ncodec = \"elsys\"\n\n[[rule]]\nf_port = 2\ncodec = \"lpp\"\n",
            &registry(),
        )
        .unwrap_err();
        assert!(
            matches!(
                &e,
                SelectionError::Codec {
                    section: Section::Rule(2),
                    line: Some(6),
                    error: RegistryError::UnknownCodec { .. }
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with(r#"rule 2 (line 6): unknown codec "lpp" (known: cayenne-lpp"#),
            "{e}"
        );
    }

    #[test]
    fn bad_options_name_the_rule_and_the_option_s_line() {
        let e = error("[[rule]]\ncodec = \"cayenne-lpp\"\nprofile = \"v2\"\n");
        assert_eq!(
            e,
            r#"rule 1 (line 3): unknown profile "v2" for codec cayenne-lpp (known: tts, extended)"#
        );
        let e = error("[[rule]]\ncodec = \"elsys\"\n\nmodel = \"ers\"\n");
        assert_eq!(
            e,
            r#"rule 1 (line 4): codec elsys takes no option "model" (it takes none)"#
        );
        let e = error("[[rule]]\nf_port = 85\ncodec = \"milesight\"\n");
        assert!(
            e.starts_with("rule 1 (line 1): codec milesight needs `model = ...` (known: "),
            "{e}"
        );
        let e = error("[default]\ncodec = \"cayenne-lpp\"\nprofile = \"v2\"\n");
        assert!(e.starts_with("[default] (line 3): unknown profile"), "{e}");
    }

    #[test]
    fn option_values_ignore_case_and_are_kept_as_the_codec_spells_them() {
        let r = registry();
        let toml = "[default]\ncodec = \"milesight\"\nmodel = \"AM308\"\n[[rule]]\nf_port = 2\ncodec = \"cayenne-lpp\"\nprofile = \"TTS\"\n";
        let s = Selection::from_toml(toml, &r).unwrap();
        let c = s.select(&Meta::default());
        assert_eq!(
            (c.id(), c.options().get("model")),
            ("milesight", Some("am308"))
        );
        let c = s.select(&Meta {
            f_port: Some(2),
            ..Meta::default()
        });
        assert_eq!(c.options().get("profile"), Some("tts"));
        assert!(!c.codec().keeps_partial());
        // The same from the command line.
        let s = s
            .with_overrides(&r, None, &Options::default().model("EM300-TH"))
            .unwrap();
        assert_eq!(
            s.select(&Meta::default()).options().get("model"),
            Some("em300-th")
        );
    }

    #[test]
    fn an_unknown_model_is_named_once() {
        let e = Selection::from_toml(
            "[default]\ncodec = \"milesight\"\nmodel = \"foo\"\n",
            &registry(),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                r#"[default] (line 3): unknown model "foo" for codec milesight (known: am103, "#
            ),
            "{text}"
        );
        assert_eq!(text.matches("unknown model").count(), 1, "{text}");
        // Nothing more to print after it: a report of the error chain repeats nothing.
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn a_rule_needs_a_codec() {
        let e = error("[[rule]]\ncodec = \"elsys\"\n[[rule]]\nf_port = 1\n");
        assert_eq!(
            e,
            r#"rule 2 (line 3): no codec (add `codec = "..."`, `js = "FILE"` or `device = "BRAND/MODEL"`)"#
        );
    }

    #[test]
    fn ports_are_application_ports() {
        for bad in ["0", "256", "-1", "[1, 0]"] {
            let e = error(&format!("[[rule]]\nf_port = {bad}\ncodec = \"elsys\"\n"));
            assert!(e.starts_with("rule 1: TOML parse error at line 2"), "{e}");
            assert!(e.contains("is not an application port (1 to 255"), "{e}");
        }
        let e = error("[[rule]]\nf_port = \"3\"\ncodec = \"elsys\"\n");
        assert!(e.contains("expected an application port, 1 to 255"), "{e}");
        let e = error("[[rule]]\nf_port = []\ncodec = \"elsys\"\n");
        assert!(e.contains("an empty list matches nothing"), "{e}");
        let e = error("[[rule]]\napplication_id = 3\ncodec = \"elsys\"\n");
        assert!(
            e.contains("invalid type: integer `3`, expected a string"),
            "{e}"
        );
        let e = error("[[rule]]\napplication_id = true\ncodec = \"elsys\"\n");
        assert!(e.contains("expected a string or a list of strings"), "{e}");
        let e = error("[[rule]]\nf_port = 1.5\ncodec = \"elsys\"\n");
        assert!(e.contains("expected a port or a list of ports"), "{e}");
        let toml = "[[rule]]\nf_port = [1, 255]\ncodec = \"elsys\"\n";
        let port = |p| Meta {
            f_port: Some(p),
            ..Meta::default()
        };
        assert_eq!(select(toml, port(255)).0, "elsys");
        assert_eq!(select(toml, port(0)).0, "cayenne-lpp");
    }

    #[test]
    fn option_overrides_reach_the_codecs_that_take_them() {
        let r = registry();
        let toml = r#"
            [default]
            profile = "extended"

            [[rule]]
            f_port = 1
            codec = "sodaq-tracker"

            [[rule]]
            f_port = 2
            codec = "cayenne-lpp"
            profile = "extended"

            [[rule]]
            f_port = 3
            codec = "elsys"
        "#;
        let s = Selection::from_toml(toml, &r).unwrap();
        let s = s
            .with_overrides(&r, None, &Options::default().profile("tts"))
            .unwrap();
        assert_eq!(s.rules(), 3);
        let at = |p| {
            let c = s.select(&Meta {
                f_port: Some(p),
                ..Meta::default()
            });
            (c.id(), c.rule(), c.options().clone())
        };
        assert_eq!(at(1), ("sodaq-tracker", Some(1), Options::default()));
        let tts = Options::default().profile("tts");
        assert_eq!(at(2), ("cayenne-lpp", Some(2), tts.clone()));
        assert!(
            !s.select(&Meta {
                f_port: Some(2),
                ..Meta::default()
            })
            .codec()
            .keeps_partial()
        );
        assert_eq!(at(3), ("elsys", Some(3), Options::default()));
        assert_eq!(at(4), ("cayenne-lpp", None, tts));

        let s = Selection::from_toml(toml, &r).unwrap();
        let s = s
            .with_overrides(&r, None, &Options::default().model("legacy"))
            .unwrap();
        assert_eq!(
            s.select(&Meta {
                f_port: Some(1),
                ..Meta::default()
            })
            .options()
            .get("model"),
            Some("legacy")
        );

        // A value one of the codecs refuses names its rule.
        let s = Selection::from_toml(toml, &r).unwrap();
        let e = s
            .with_overrides(&r, None, &Options::default().model("em300-th"))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(r#"rule 1: unknown model "em300-th" for codec sodaq-tracker"#),
            "{e}"
        );
    }

    #[test]
    fn an_option_no_codec_takes_is_an_error() {
        let r = registry();
        let toml = "[[rule]]\ncodec = \"elsys\"\n[[rule]]\ncodec = \"elsys\"\n";
        let e = Selection::from_toml(toml, &r)
            .unwrap()
            .with_overrides(&r, None, &Options::default().model("em300-th"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"model "em300-th" belongs to codec milesight, which is not in use (elsys, cayenne-lpp): add --codec milesight"#
        );
        // Named as the user spelled it, found ignoring case.
        let e = Selection::builtin_default(&r)
            .with_overrides(&r, None, &Options::default().model("Legacy"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"model "Legacy" belongs to codec sodaq-tracker, which is not in use (cayenne-lpp): add --codec sodaq-tracker"#
        );
        let e = Selection::builtin_default(&r)
            .with_overrides(&r, None, &Options::default().model("foo"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"option model "foo" is taken by no codec in use (cayenne-lpp), and no codec has a model "foo""#
        );
        // Two codecs with the model: both are named.
        let mut two = registry();
        let mut info = *two.get("milesight").unwrap();
        info.id = "milesight-copy";
        two.register(info);
        let e = Selection::builtin_default(&two)
            .with_overrides(&two, None, &Options::default().model("am308"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"model "am308" belongs to codecs milesight, milesight-copy, none of them in use (cayenne-lpp): add --codec with one of them"#
        );
        // No option, no codec: nothing changes.
        let s = Selection::from_toml(toml, &r)
            .unwrap()
            .with_overrides(&r, None, &Options::default())
            .unwrap();
        assert_eq!(s.rules(), 2);
    }

    #[test]
    fn the_readme_example_reads() {
        let readme = include_str!("../../../../README.md");
        let section = readme
            .split("\n## Choosing codecs: `lorafield.toml`\n")
            .nth(1)
            .expect("the README has the section");
        let section = section.split("\n## ").next().unwrap();
        let example = section
            .split("```toml\n")
            .nth(1)
            .and_then(|s| s.split("\n```").next())
            .expect("the section has a ```toml block");
        let s = Selection::from_toml(example, &registry()).unwrap();
        assert_eq!(s.rules(), 3);
        let hackiot = Meta {
            application_id: Some("hackiot-demo"),
            f_port: Some(3),
            ..Meta::default()
        };
        assert_eq!(s.select(&hackiot).rule(), Some(1));
        let em300 = Meta {
            brand_id: Some("milesight-iot"),
            model_id: Some("em300-th"),
            f_port: Some(85),
            ..Meta::default()
        };
        assert_eq!(s.select(&em300).id(), "milesight");
        let sodaq = Meta {
            rec_type: Some("uk.reading.ttn.sodaq"),
            ..Meta::default()
        };
        assert_eq!(s.select(&sodaq).id(), "sodaq-tracker");
        // And the module documentation shows the same file.
        let docs: String = include_str!("mod.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! "))
            .skip_while(|l| *l != "```toml")
            .skip(1)
            .take_while(|l| *l != "```")
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(docs.replace('\n', ""), example.replace('\n', ""));
    }
}
