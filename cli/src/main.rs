//! The `maxstorage` command. Not built yet: see README.md for what it will hold.

fn main() {
    eprintln!("maxstorage: the command-line tool is not built yet; see cli/README.md");
    std::process::exit(2);
}
