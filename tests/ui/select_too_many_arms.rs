use std::future::ready;

async fn run() -> u32 {
    // 65 arms: one more than a select may have.
    gort::select! {
        v = ready(0) => v, v = ready(1) => v, v = ready(2) => v, v = ready(3) => v,
        v = ready(4) => v, v = ready(5) => v, v = ready(6) => v, v = ready(7) => v,
        v = ready(8) => v, v = ready(9) => v, v = ready(10) => v, v = ready(11) => v,
        v = ready(12) => v, v = ready(13) => v, v = ready(14) => v, v = ready(15) => v,
        v = ready(16) => v, v = ready(17) => v, v = ready(18) => v, v = ready(19) => v,
        v = ready(20) => v, v = ready(21) => v, v = ready(22) => v, v = ready(23) => v,
        v = ready(24) => v, v = ready(25) => v, v = ready(26) => v, v = ready(27) => v,
        v = ready(28) => v, v = ready(29) => v, v = ready(30) => v, v = ready(31) => v,
        v = ready(32) => v, v = ready(33) => v, v = ready(34) => v, v = ready(35) => v,
        v = ready(36) => v, v = ready(37) => v, v = ready(38) => v, v = ready(39) => v,
        v = ready(40) => v, v = ready(41) => v, v = ready(42) => v, v = ready(43) => v,
        v = ready(44) => v, v = ready(45) => v, v = ready(46) => v, v = ready(47) => v,
        v = ready(48) => v, v = ready(49) => v, v = ready(50) => v, v = ready(51) => v,
        v = ready(52) => v, v = ready(53) => v, v = ready(54) => v, v = ready(55) => v,
        v = ready(56) => v, v = ready(57) => v, v = ready(58) => v, v = ready(59) => v,
        v = ready(60) => v, v = ready(61) => v, v = ready(62) => v, v = ready(63) => v,
        v = ready(64) => v,
    }
}

fn main() {
    let _ = run();
}
