process REPORT {
    tag "${tissue}"
    label 'process_medium'

    input:
    // One tissue ('default' without --tissues): MERGE's genes.tsv, drivers.tsv, summary.json (and the
    // motif tables); every STATS <batch>.genedata.npz (phase 1: every gene); every ATTRIBUTION_STATS one
    // ([] when no gene was selected: read after phase 1's, so a selected gene's page shows its attribution)
    tuple val(tissue), path(assessment), path(genedata_screen), path(genedata_attribution)
    path attribution        // ISM's saturation and gradient files (the selected genes only)
    path check_summary      // CHECK_INPUTS' check_summary.json
    path run_params         // the run's parameters as JSON (provenance); [] when not known

    output:
    // With tissues under report/<tissue>/
    path "${params.tissues ? 'report/' + tissue : 'report'}/index.html",        emit: index
    path "${params.tissues ? 'report/' + tissue : 'report'}/genes/*.html",      optional: true, emit: gene_pages
    path "${params.tissues ? 'report/' + tissue : 'report'}/figures/**",        emit: figures
    path "${params.tissues ? 'report/' + tissue : 'report'}/data/**",           emit: data
    path 'versions.yml',             emit: versions

    script:
    def genes = params.report_genes ? "--genes '${params.report_genes}'" : ''
    def ism   = attribution ? "--ism ${attribution}" : ''
    def info  = run_params ? "--run-info ${run_params}" : ''
    """
    seqgx report \\
        --assessment ${assessment} --stats ${genedata_screen} ${genedata_attribution} ${ism} \\
        --check ${check_summary} ${info} \\
        --top-genes ${params.report_top_genes} ${genes} --threads ${task.cpus} --out ${params.tissues ? 'report/' + tissue : 'report'}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        matplotlib: \$(python -c 'import matplotlib; print(matplotlib.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ${params.tissues ? 'report/' + tissue : 'report'}/genes ${params.tissues ? 'report/' + tissue : 'report'}/figures ${params.tissues ? 'report/' + tissue : 'report'}/data
    touch ${params.tissues ? 'report/' + tissue : 'report'}/index.html ${params.tissues ? 'report/' + tissue : 'report'}/figures/stub.png ${params.tissues ? 'report/' + tissue : 'report'}/data/stub.tsv
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
