process ATTRIBUTION_GENES {
    label 'process_single'

    input:
    path genes_tables       // phase 1: every batch's <batch>.genes.tsv (statistics without attribution)
    path drivers_tables     // their (empty) <batch>.drivers.tsv, read beside them
    path windows            // genes.tsv of GENES
    path gene_list          // attribution_genes as a file of genes; [] for 'significant' or 'all'
    val selection           // 'significant' or 'all' when gene_list is []

    output:
    path 'attribution/attribution_genes.tsv',             emit: selection
    path 'attribution/batches/*.tsv', optional: true,     emit: batches   // none when nothing is selected
    path 'versions.yml',                                  emit: versions

    script:
    def mode    = gene_list ?: selection
    def args    = task.ext.args ?: ''   // fdr_alpha, min_abs_r, report_genes, genes_per_batch (conf/modules.config)
    """
    seqgx attribution-genes \\
        --stats ${genes_tables} --windows ${windows} --attribution-genes ${mode} ${args} --out attribution

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    // Every stub gene selected (PERSONALIZE's stub names its gene <batch>.stub), so the stub run goes
    // through phase 2 too.
    """
    mkdir -p attribution/batches
    printf 'gene_id\\tselected\\n' > attribution/attribution_genes.tsv
    printf 'gene_id\\tvcf_contig\\n' > attribution/batches/attribution_stub_1.tsv
    for table in ${genes_tables}; do
        printf '%s.stub\\t\\n' "\$(basename "\$table" .genes.tsv)" >> attribution/batches/attribution_stub_1.tsv
    done
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
