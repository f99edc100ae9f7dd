use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    diemcau::cli::main(diemcau::cli::Cli::parse()).await
}
