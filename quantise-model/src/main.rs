//! `quantise-model <model.safetensors> <model.int16.safetensors>`: writes the quantised
//! projections of a BERT checkpoint (see the library). The output appears whole or not at all:
//! it is written beside the target and renamed into place.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: quantise-model <model.safetensors> <model.int16.safetensors>");
        return ExitCode::from(2);
    };
    match run(input.into(), output.into()) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("quantise-model: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: PathBuf, output: PathBuf) -> Result<String, String> {
    let checkpoint =
        std::fs::read(&input).map_err(|err| format!("reading {}: {err}", input.display()))?;
    let quantised = quantise_model::quantise(&checkpoint)
        .map_err(|err| format!("{}: {err}", input.display()))?;
    let partial = output.with_extension("partial");
    std::fs::write(&partial, &quantised.bytes)
        .and_then(|()| std::fs::rename(&partial, &output))
        .map_err(|err| {
            let _ = std::fs::remove_file(&partial);
            format!("writing {}: {err}", output.display())
        })?;
    Ok(format!(
        "{}: {} matrices, {} weights, {} bytes",
        output.display(),
        quantised.matrices,
        quantised.weights,
        quantised.bytes.len()
    ))
}
