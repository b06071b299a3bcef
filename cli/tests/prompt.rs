//! The share-entry flow (the one `restore` will use too), driven by scripted answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use yhsm::util::prompt::{ScriptedPrompter, prompt_shares};
use yhsm::wrapkey::shares::combine_prompted;

const S1: &str = "2-1-DzyKRzPN4fnv9gpd4MgmRClmJxHZxEEEZTHp4eGICmQPjjS75HZhJKJAP6EESSFPBmzYhw";
const S2: &str = "2-2-Hn4VkmaH3+/D8US63Y1MiFHDBS+vloQNxm3F1scWCtUKFnp65d/0fWW/RGYguWyzKP+PMg";
const S3: &str = "2-3-EUBgKlVKPhYsB37nPUVqzHmgG852U8cKp1kqMC6XCroJlUDOEbiHStPqbdA86VfnMo5Jqg";
const M1: &str = "2-1-79136606d55d19e955a79b85c5e5b50da2cc56398f32e784378a03947728cfba4f94ebfc032671ccf3c29d3e11f4db003bac81c4";

#[test]
fn asks_for_the_count_then_each_share_without_echo() {
    let mut p = ScriptedPrompter::new(&["2", S3, S1]);
    let key = combine_prompted(&mut p).unwrap();
    assert_eq!(key.recovered.secret.wrap_key_id, 2);
    assert_eq!(key.recovered.threshold, 2);
    assert_eq!(
        p.transcript,
        [
            "Enter one share more than the threshold if one more custodian is present: the \
             shares carry no checksum, and with an extra share a mistyped one is caught before \
             anything is written.",
            "Enter the number of shares: ",
            "(secret) Enter share number 1: ",
            "Received share 1 of 2",
            "(secret) Enter share number 2: ",
            "Received share 2 of 2",
        ]
    );
}

#[test]
fn asks_again_after_a_bad_answer_without_repeating_it() {
    let mut bad = S2.to_owned();
    bad.replace_range(20..21, "*");
    let mut p = ScriptedPrompter::new(&["zero", "0", "3", S1, &bad, M1, S1, S2, S3]);
    let shares = prompt_shares(&mut p).unwrap();
    assert_eq!(shares.iter().map(|s| s.index()).collect::<Vec<_>>(), [1, 2, 3]);
    let t = p.transcript.join("\n");
    assert_eq!(t.matches("Expected a number from 1 to 9.").count(), 2, "{t}");
    assert!(t.contains("Share 2 refused: bad character at position 21. Enter it again."), "{t}");
    assert!(
        t.contains(
            "Share 2 refused: it is a yubihsm-manager share but the first one is a yubihsm-setup \
         share. Enter it again."
        ),
        "{t}"
    );
    assert!(t.contains("Share 2 refused: share number 1 has index 1 too. Enter it again."), "{t}");
    assert!(t.contains("Received share 3 of 3"), "{t}");
    for secret in [&bad[4..], &M1[4..], &S1[4..], &S2[4..]] {
        assert!(!t.contains(secret), "a share was echoed in {t}");
    }
}

/// Before (issue 10 §5): a count below the threshold ended the command, and every
/// custodian had to start over. Now it is said, the count asked again, and the share
/// already typed kept.
#[test]
fn asks_the_count_again_when_it_is_below_the_threshold() {
    let mut p = ScriptedPrompter::new(&["1", S1, "1", "2", S2]);
    let shares = prompt_shares(&mut p).unwrap();
    assert_eq!(shares.iter().map(|s| s.index()).collect::<Vec<_>>(), [1, 2]);
    let t = p.transcript.join("\n");
    let said = "These shares need 2 to recover the key, but 1 will be entered: enter the number \
                of shares again (at least 2); the share just typed is kept.";
    assert_eq!(t.matches(said).count(), 2, "{t}");
    assert_eq!(t.matches("(secret) Enter share number 1: ").count(), 1, "typed once: {t}");
    assert!(t.ends_with("Received share 2 of 2"), "{t}");
}

#[test]
fn stops_at_the_end_of_input() {
    let mut p = ScriptedPrompter::new(&["2", S1]);
    assert_eq!(prompt_shares(&mut p).unwrap_err().chain(), "share 2 of 2 was not entered");
    let mut p = ScriptedPrompter::new::<&str>(&[]);
    assert_eq!(prompt_shares(&mut p).unwrap_err().chain(), "no number of shares entered");
}

#[test]
fn a_wrong_share_fails_the_combination() {
    let mut wrong = S3.to_owned();
    wrong.replace_range(70..71, "A");
    let mut p = ScriptedPrompter::new(&["3", S1, S2, &wrong]);
    let e = combine_prompted(&mut p).unwrap_err().chain();
    assert!(e.starts_with("the shares entered do not combine: share 3 does not fit"), "{e}");
}
