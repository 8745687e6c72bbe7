process REPORT {
    label 'process_medium'

    input:
    path assessment         // MERGE's genes.tsv, drivers.tsv, summary.json (and the motif tables)
    path genedata_screen    // every STATS <batch>.genedata.npz (phase 1: every gene)
    path genedata_attribution // every ATTRIBUTION_STATS one ([] when no gene was selected): read after
                            // phase 1's, so a selected gene's page shows its attribution
    path attribution        // ISM's saturation and gradient files (the selected genes only)
    path check_summary      // CHECK_INPUTS' check_summary.json
    path run_params         // the run's parameters as JSON (provenance); [] when not known

    output:
    path 'report/index.html',        emit: index
    path 'report/genes/*.html',      optional: true, emit: gene_pages
    path 'report/figures/**',        emit: figures
    path 'report/data/**',           emit: data
    path 'versions.yml',             emit: versions

    script:
    def genes = params.report_genes ? "--genes '${params.report_genes}'" : ''
    def ism   = attribution ? "--ism ${attribution}" : ''
    def info  = run_params ? "--run-info ${run_params}" : ''
    """
    seqgx report \\
        --assessment ${assessment} --stats ${genedata_screen} ${genedata_attribution} ${ism} \\
        --check ${check_summary} ${info} \\
        --top-genes ${params.report_top_genes} ${genes} --threads ${task.cpus} --out report

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        matplotlib: \$(python -c 'import matplotlib; print(matplotlib.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p report/genes report/figures report/data
    touch report/index.html report/figures/stub.png report/data/stub.tsv
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
