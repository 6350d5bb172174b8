//! `statuskit docs --format F`: prints the catalog (markdown, rst, html) or the OpenAPI document.

/// Prints the docs in `format`.
pub async fn print(format: &str) -> Result<(), Box<dyn std::error::Error>> {
    let text = match format {
        "openapi" => serde_json::to_string_pretty(&crate::app::document(&crate::docs::error_docs()).await?)?,
        other => crate::docs::error_docs().render(other.parse::<statuskit::docs::DocFormat>()?),
    };
    println!("{text}");
    Ok(())
}
