process MERGE {
    label 'process_single'

    input:
    path genes_tables
    path drivers_tables
    path genes

    output:
    path 'assessment/genes.tsv',     emit: genes
    path 'assessment/drivers.tsv',   emit: drivers
    path 'assessment/summary.json',  emit: summary
    path 'versions.yml',             emit: versions

    script:
    """
    seqgx merge \\
        --genes ${genes_tables} --drivers ${drivers_tables} --annotation ${genes} \\
        --fdr-alpha ${params.fdr_alpha} --out assessment

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p assessment
    touch assessment/genes.tsv assessment/drivers.tsv
    echo '{}' > assessment/summary.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
